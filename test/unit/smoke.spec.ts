import 'reflect-metadata';
import { ThrottlerGuard } from '@nestjs/throttler';
import { Injectable } from '@nestjs/common';
import { LruMap } from '../../src/common/lru-map.js';

@Injectable()
class X {}

test('toolchain', () => {
  expect(typeof ThrottlerGuard).toBe('function');
  expect(new LruMap<string, number>(2).capacity).toBe(2);
  expect(X).toBeDefined();
});
