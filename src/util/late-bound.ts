// A reference to a component that is created after the ones that call it, where the calls
// form a cycle (the queue pauses the consumer, the consumer feeds the queue). Binding is
// explicit and once; a call before it gets null or a clear error instead of a ReferenceError.
export class LateBound<T> {
  private value: T | null = null;

  constructor(private readonly name: string) {}

  bind(value: T): T {
    if (this.value !== null) throw new Error(`${this.name}: already bound`);
    this.value = value;
    return value;
  }

  /** The component, or null before bind(). */
  get current(): T | null {
    return this.value;
  }

  get(): T {
    if (this.value === null) throw new Error(`${this.name}: used before it was created`);
    return this.value;
  }
}
