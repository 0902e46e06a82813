import { HttpException, Injectable, type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ErrorCode } from '../protocol/error-codes.js';
import { compileValidator } from '../pipes/compiled-validator.js';
import { describeValidationErrors, STRICT_VALIDATION } from '../pipes/validation-details.js';
import { type BatchItem, BatchRejected, type IndexedDetail, PublishRejected } from '../publishing/realtime-publisher.js';
import { MAX_PUBLISH_DATA_BYTES, PublishDto } from './dto/publish.dto.js';

export const MAX_BATCH_ITEMS = 1000;

/** The body of `POST /realtime/publish`: one publish, or a batch of them (docs/protocol.md §8). */
export type PublishBody = { readonly batch: false; readonly item: BatchItem } | { readonly batch: true; readonly items: readonly BatchItem[] };

/**
 * Validates `POST /realtime/publish` as one publish object or a batch of 1..1000 of them,
 * the batch as a whole: every bad item is reported with its `index`, before anything is
 * delivered. Each item is checked by PublishDto's rules compiled once (compiled-validator.ts);
 * only a refused item pays for class-validator, which words the `details`.
 */
@Injectable()
export class PublishBodyPipe implements PipeTransform<unknown, PublishBody> {
  private readonly valid = compileValidator(PublishDto) ?? ((): boolean => false);

  transform(body: unknown): PublishBody {
    if (!Array.isArray(body)) {
      const item = this.item(body);
      if (item instanceof HttpException) throw item;
      return { batch: false, item };
    }
    if (body.length < 1 || body.length > MAX_BATCH_ITEMS) {
      const constraint = body.length < 1 ? 'arrayMinSize' : 'arrayMaxSize';
      throw invalid(`a batch must hold 1 to ${MAX_BATCH_ITEMS} publishes`, [{ field: '', constraints: [constraint] }]);
    }
    const items: BatchItem[] = new Array(body.length);
    const details: IndexedDetail[] = [];
    let message: string | undefined;
    for (let index = 0; index < body.length; index += 1) {
      const item = this.item(body[index]);
      if (!(item instanceof HttpException)) {
        items[index] = item;
        continue;
      }
      const answer = item.getResponse() as { message: string; details: readonly { field: string; constraints: readonly string[] }[] };
      message ??= `item ${index}: ${answer.message}`;
      for (const detail of answer.details) details.push({ index, ...detail });
    }
    if (message !== undefined) throw new BatchRejected(details, message);
    return { batch: true, items };
  }

  /** One publish object, or the 400 it gets (returned, so a batch can gather them). */
  private item(value: unknown): BatchItem | HttpException {
    let item: BatchItem;
    if (this.valid(value)) {
      item = value as BatchItem;
    } else {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return invalid('a publish must be a JSON object', [{ field: '', constraints: ['isObject'] }]);
      }
      const instance = plainToInstance(PublishDto, value);
      const errors = validateSync(instance, STRICT_VALIDATION);
      if (errors.length > 0) return new HttpException({ code: ErrorCode.VALIDATION_FAILED, ...describeValidationErrors(errors) }, 400);
      item = instance as BatchItem;
    }
    if (item.data !== undefined && Buffer.byteLength(JSON.stringify(item.data)) > MAX_PUBLISH_DATA_BYTES) {
      return new PublishRejected('data', 'maxSize', `data must be at most ${MAX_PUBLISH_DATA_BYTES} bytes`);
    }
    return item;
  }
}

function invalid(message: string, details: readonly object[]): HttpException {
  return new HttpException({ code: ErrorCode.VALIDATION_FAILED, message, details }, 400);
}
