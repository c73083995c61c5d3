// What follows each reconcile pass outside the routing tables: traffic policies' decisions into nft's
// maps (src/policy/engine.ts), haip's router advertisements on the LAN (src/core/lan6.ts), and the nft
// event watch that brings haip's nft table back at once when something flushes the ruleset.
import { Config, Family } from '../model';
import { markedLinks } from '../net/replies';
import { Standing } from '../policy/assign';
import { PolicyEngine } from '../policy/engine';
import { PoliciesStatus } from '../policy/status';
import { hasPolicies } from '../policy/nft';
import { DaemonDeps } from './deps';
import { LanAdvertiser, Lan6Input, Lan6Status, unavailableRaPorts } from './lan6';

/** What the followers need from the daemon. */
export interface FollowerSource {
  config(): Config;
  ready(): boolean;
  stopped(): boolean;
  /** A link's health in a family as policies judge it. */
  standing(link: string, family: Family): Standing | undefined;
  /** What the LAN's RAs depend on, from the last pass. */
  lan6Input(): Lan6Input;
  /** What they tell changed: status.json and the metrics are due. */
  publish(): void;
  /** nft changed something (a flushed ruleset): a pass is due. */
  nftEvent(what: string): void;
}

export class Followers {
  private readonly policies: PolicyEngine;
  private readonly lan6: LanAdvertiser;
  private nftWatched = false;

  constructor(
    private readonly deps: DaemonDeps,
    private readonly src: FollowerSource,
  ) {
    this.policies = new PolicyEngine({ log: deps.log, nft: deps.nft, conntrack: deps.conntrack, now: () => deps.clock.now(), onChange: () => src.publish() });
    this.lan6 = new LanAdvertiser({ log: deps.log, clock: deps.clock, ports: deps.raPorts ?? unavailableRaPorts(deps.log), changed: () => src.publish() });
  }

  /** After each pass: policies' decisions from its health into nft's maps, the LAN told of prefixes. */
  afterPass(): void {
    const config = this.src.config();
    void this.policies.kick(config, (link, family) => this.src.standing(link, family));
    if (this.src.ready()) this.lan6.update(config.lan6, this.src.lan6Input());
  }

  /** `nft flush ruleset` must bring haip's table back within a second, not at the next periodic pass. */
  watchNft(): void {
    const config = this.src.config();
    const want = (markedLinks(config).length > 0 || hasPolicies(config)) && !!this.deps.nftEvents && !this.src.stopped();
    if (want === this.nftWatched) return;
    this.nftWatched = want;
    if (want) this.deps.nftEvents!.start((what) => this.src.nftEvent(what));
    else this.deps.nftEvents?.stop();
  }

  /** The parts to stop, by name (the daemon logs each failure and goes on). */
  stopParts(): [string, () => void][] {
    return [
      ['nft events', () => this.nftWatched && this.deps.nftEvents?.stop()],
      ['lan6', () => this.lan6.stop()],
    ];
  }

  status(config: Config): { lan6?: Lan6Status; policies?: PoliciesStatus } {
    const policies = this.policies.status(config);
    return { lan6: this.lan6.status(), ...(policies ? { policies } : {}) };
  }
}
