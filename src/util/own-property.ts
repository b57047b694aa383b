// Writing a key that came from outside (a Kafka header name) into a plain object.

/**
 * defineProperty, not assignment: a key named "__proto__" must become an own property, not
 * replace the object's prototype (and vanish from Object.entries).
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
