// The fwmark rules of policies: each (policy, link) mark looks up the link's table. They sit at
// rule_priority + 7: after main's specific routes (base) and the probes' oif rules (+5), before the
// source rules (+10...), so the router's own connections that a traffic rule classifies leave by the
// policy's link too. At + 8, the marks of refusing policies (and the refusing mark itself) meet an
// `unreachable` rule: a link whose table haip has emptied (carrier lost, interface gone) never lets its
// connections fall through to another uplink, not even in the moment before the maps change.
import { Config, Family, Rule } from '../model';
import { markMask } from '../net/marks';
import { policyMarks } from './marks';

export const POLICY_RULE_OFFSET = 7;
export const REFUSE_RULE_OFFSET = 8;

export function policyRules(config: Config, family: Family): Rule[] {
  if (!config.policies?.length) return [];
  const mask = markMask(config);
  const plan = policyMarks(config);
  const out: Rule[] = [];
  const fam = family === 6 ? { family: 6 as const } : {};
  const masked = (r: Rule): Rule => (mask !== 0xffffffff ? { ...r, mask } : r);
  const refuse = (mark: number) => out.push(masked({ ...fam, priority: config.rulePriorityBase + REFUSE_RULE_OFFSET, fwmark: mark, table: 0, type: 'unreachable', protocol: config.protocol }));
  for (const pm of plan.pairs) {
    const table = config.links.find((l) => l.name === pm.link)?.table;
    if (table === undefined) continue;
    out.push(masked({ ...fam, priority: config.rulePriorityBase + POLICY_RULE_OFFSET, fwmark: pm.mark, table, protocol: config.protocol }));
    if (config.policies.find((p) => p.name === pm.policy)?.lastResort === 'unreachable') refuse(pm.mark);
  }
  if (plan.unreachable !== undefined) refuse(plan.unreachable);
  return out;
}
