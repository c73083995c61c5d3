// The fwmark rules of policies: each (policy, link) mark looks up the link's table. They sit at
// rule_priority + 7: after main's specific routes (base) and the probes' oif rules (+5), before the
// source rules (+10...), so the router's own connections that a traffic rule classifies leave by the
// policy's link too.
import { Config, Family, Rule } from '../model';
import { markMask } from '../net/desired';
import { policyMarks } from './marks';

export const POLICY_RULE_OFFSET = 7;

export function policyRules(config: Config, family: Family): Rule[] {
  if (!config.policies?.length) return [];
  const mask = markMask(config);
  const out: Rule[] = [];
  for (const pm of policyMarks(config).pairs) {
    const table = config.links.find((l) => l.name === pm.link)?.table;
    if (table === undefined) continue;
    const rule: Rule = { ...(family === 6 ? { family: 6 as const } : {}), priority: config.rulePriorityBase + POLICY_RULE_OFFSET, fwmark: pm.mark, table, protocol: config.protocol };
    if (mask !== 0xffffffff) rule.mask = mask;
    out.push(rule);
  }
  return out;
}
