// Keys from outside (Kafka header names) written into plain objects stay own properties,
// "__proto__" included, instead of changing the object's prototype.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setOwn } from '../../../src/util/own-property.js';

void describe('setOwn', () => {
  void it('"__proto__" becomes an own, enumerable key; the prototype is untouched', () => {
    const o: Record<string, string> = {};
    setOwn(o, '__proto__', 'x');
    setOwn(o, 'a', '1');
    setOwn(o, 'a', '2');
    assert.deepEqual(Object.entries(o), [
      ['__proto__', 'x'],
      ['a', '2'],
    ]);
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
  });
});
