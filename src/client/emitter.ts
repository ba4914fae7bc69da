/** A small typed event emitter: `on` returns its own unsubscribe function. */
export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Resolves with the next payload of `event` (optionally the next one matching `filter`). */
  next<K extends keyof Events>(event: K, filter?: (payload: Events[K]) => boolean): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        if (filter && !filter(payload)) return;
        off();
        resolve(payload);
      });
    });
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }

  /**
   * Calls every listener. A listener that throws does not stop the others nor the SDK's own
   * state: its error is rethrown on a fresh task, where the platform reports it.
   */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
