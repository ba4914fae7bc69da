// Timer handles differ between platforms (number in browsers and Workers, objects in Node).
export type Timeout = ReturnType<typeof setTimeout>;
export type Interval = ReturnType<typeof setInterval>;

export function cancelTimeout(timer: Timeout | undefined): void {
  if (timer !== undefined) clearTimeout(timer);
}

export function cancelInterval(timer: Interval | undefined): void {
  if (timer !== undefined) clearInterval(timer);
}
