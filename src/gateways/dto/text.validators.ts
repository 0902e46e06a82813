import { registerDecorator, type ValidationOptions } from 'class-validator';

/** Control characters other than \n and \t (docs/protocol.md §5 text rule). */
export const FORBIDDEN_CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

export function NoControlChars(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'noControlChars',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `${String(propertyName)} must not contain control characters other than \\n and \\t`, ...options },
      validator: {
        validate: (value: unknown) => typeof value === 'string' && !FORBIDDEN_CONTROL_CHARS.test(value),
      },
    });
}

/** The value serialises to at most `bytes` bytes of JSON. */
export function MaxJsonBytes(bytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'maxJsonBytes',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [bytes],
      options: { message: `${String(propertyName)} must be at most ${bytes} bytes as JSON`, ...options },
      validator: {
        validate: (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '') <= bytes,
      },
    });
}
