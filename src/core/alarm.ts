// One timer for "the earliest of these times": decision code returns times (a damping hold's end, a
// refused route's retry), and the wiring keeps one alarm per kind armed for the first of them.
import { Clock, TimerHandle } from '../sys/clock';

export class Alarm {
  private timer?: TimerHandle;
  private at?: number;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Arms for the earliest of `times` (none: disarmed); the same time again changes nothing. */
  set(times: number[]): void {
    const next = times.length ? Math.min(...times) : undefined;
    if (next === this.at) return;
    this.cancel();
    this.at = next;
    if (next === undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.at = undefined;
      this.timer = undefined;
      this.fire();
    }, Math.max(0, next - this.clock.now()));
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.at = undefined;
  }
}
