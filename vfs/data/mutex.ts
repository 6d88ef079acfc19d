/**
 * A minimal async mutex: tasks run one at a time, in the order they asked.
 * A task that throws releases the lock like one that returns.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
