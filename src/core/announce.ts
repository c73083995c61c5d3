// The one place a change of state is told, in this order: the log, STATUS= and status.json (the
// metrics file follows the status sink), then hooks. Switch hooks wait for the end of the pass, so they
// run after the route and sticky's step. Only what the kernel confirmed reaches this module.
import { eventFields, Log, noticeFields } from '../log';
import { HookRunner } from '../hooks';
import { Family, HookEvent, LinkHealth } from '../model';
import { Clock, TimerHandle } from '../sys/clock';
import { Notifier } from '../sys/notifier';
import { StatusDoc, StatusSink, statusLine } from '../status';
import { LinkRuntime } from './registry';
import { SelectionEvent } from './selector';

export type Transition =
  | { kind: 'link'; family: Family; link: string; from: LinkHealth; to: LinkHealth }
  | { kind: 'switch'; family: Family; from: string | null; to: string; reason: string };

export interface AnnounceDeps {
  log: Log;
  notifier: Notifier;
  clock: Clock;
  hooks?: HookRunner;
  status?: StatusSink;
}

/** What announcing reads of the daemon's state. */
export interface AnnounceSource {
  runtime(family: Family, link: string): LinkRuntime | undefined;
  runtimes(family: Family): LinkRuntime[];
  routedBy(family: Family): string | null;
  /** Why damping holds an UP link back, or null. */
  heldBack(rt: LinkRuntime): string | null;
  statusDoc(): StatusDoc;
  ready(): boolean;
  stopped(): boolean;
}

/** "" for IPv4 (as haip always spoke), "IPv6 " for IPv6. */
export const fam = (f: Family) => (f === 6 ? 'IPv6 ' : '');

export function gatewayOf(rt: LinkRuntime): string | undefined {
  return rt.view.gateway ?? (rt.family === 6 ? rt.config.gateway6 : rt.config.gateway);
}

function hookEvent(event: HookEvent['event'], rt: LinkRuntime, state: string, previous: string): HookEvent {
  return { event, family: rt.family, link: rt.config.name, interface: rt.config.interface, state, previous, gateway: gatewayOf(rt) };
}

export class Announcer {
  /** Switch hooks wait for the route and sticky's step (route, sticky, hooks). */
  private queuedHooks: HookEvent[] = [];
  private statusTimer?: TimerHandle;
  private statusDirty = false;

  constructor(
    private readonly deps: AnnounceDeps,
    private readonly source: AnnounceSource,
  ) {}

  /** Link changes and confirmed switches. */
  transitions(transitions: Transition[]): void {
    const { log, hooks } = this.deps;
    for (const t of transitions) {
      if (t.kind === 'link') {
        const rt = this.source.runtime(t.family, t.link)!;
        const msg = `link ${t.link} (${rt.config.interface})${t.family === 6 ? ' IPv6' : ''}: ${t.from.state} -> ${t.to.state}: ${t.to.reason}`;
        const ev = hookEvent(t.to.state === 'up' ? 'link-up' : t.to.state === 'degraded' ? 'link-degraded' : 'link-down', rt, t.to.state, t.from.state);
        if (t.to.state === 'down') {
          log.warning(msg, eventFields(ev));
          // Whichever link goes down last: links failing together must be told too.
          const routedBy = this.source.routedBy(t.family);
          if (routedBy && !this.source.runtimes(t.family).some((o) => o.health.state === 'up' || o.health.state === 'degraded'))
            log.error(`every link is down${t.family === 6 ? ' for IPv6' : ''}; keeping the ${fam(t.family)}default route on ${routedBy} and probing on`);
        } else if (t.to.state === 'degraded') log.warning(msg, eventFields(ev));
        else log.notice(msg, eventFields(ev));
        const held = t.to.state === 'up' ? this.source.heldBack(rt) : null;
        if (held) {
          rt.heldLogged = true;
          log.notice(`${t.link}${t.family === 6 ? ' (IPv6)' : ''} answers again but is ${held}`);
        }
        hooks?.run(ev);
      } else {
        const to = this.source.runtime(t.family, t.to)!;
        const from = t.from ? this.source.runtime(t.family, t.from) : undefined;
        const via = (rt: LinkRuntime) => `${rt.config.name} (${rt.config.interface}${gatewayOf(rt) ? ` via ${gatewayOf(rt)}` : ''})`;
        const msg = `switch: ${fam(t.family)}default route ${from ? via(from) : 'none'} -> ${via(to)}: ${t.reason}`;
        const ev = hookEvent('switch', to, to.health.state, t.from ?? '');
        // A move away from a failed link is a warning; anything else (start, fail-back) is a notice.
        if (from && from.health.state !== 'up') log.warning(msg, eventFields(ev));
        else log.notice(msg, eventFields(ev));
        this.queuedHooks.push(ev);
      }
    }
    this.publish();
  }

  /** The selector's events for one family: switches as above; refusals and the all-down warning. */
  selection(family: Family, events: SelectionEvent[]): void {
    const f = fam(family);
    let publish = false;
    for (const e of events) {
      if (e.kind === 'switch') this.transitions([e]);
      else if (e.kind === 'all-down') {
        if (this.source.runtimes(family).length) this.deps.log.error(`every link is down ${family === 6 ? 'for IPv6 ' : ''}and no ${f}default route is ours to keep; still probing every link`);
      } else if (e.kind === 'refused') {
        this.deps.log.error(`${f}switch to ${e.link} refused: ${e.reason}; the ${f}default route stays ${e.routedBy ? `on ${e.routedBy}` : 'as it is'}; will retry`, noticeFields('route-refused'));
        publish = true;
      } else publish = true;
    }
    if (publish) this.publish();
  }

  /** After sticky's step: what comes last in a change. */
  runQueuedHooks(): void {
    for (const ev of this.queuedHooks.splice(0)) this.deps.hooks?.run(ev);
  }

  /** RTT and loss change every round; the file and STATUS= are refreshed at most once a second. */
  markDirty(): void {
    if (this.statusDirty || this.source.stopped()) return;
    this.statusDirty = true;
    this.statusTimer = this.deps.clock.setTimeout(() => {
      this.statusTimer = undefined;
      if (this.statusDirty) this.publish();
    }, 1000);
  }

  publish(): void {
    this.statusDirty = false;
    const doc = this.writeStatus();
    if (this.source.ready()) this.deps.notifier.notify({ STATUS: statusLine(doc) });
  }

  writeStatus(): StatusDoc {
    const doc = this.source.statusDoc();
    this.deps.status?.write(doc);
    return doc;
  }

  stop(): void {
    this.statusTimer?.cancel();
  }
}
