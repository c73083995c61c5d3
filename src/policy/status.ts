// What status.json says about policies: each policy's decision per family and its connections per link,
// the traffic rules, and the marks, so `haip status`, `haip which` and the metrics need nothing else.
import { Family } from '../model';
import { PolicyConfig, TrafficRule } from './types';

export interface PolicyFamilyStatus {
  family: Family;
  usable: string[];
  /** prefer: the link new connections take; null: none usable. */
  chosen?: string | null;
  /** balance: the link of each hash bucket; null: none usable. */
  buckets?: (string | null)[];
}

export interface PolicyStatus {
  name: string;
  kind: PolicyConfig['kind'];
  by?: PolicyConfig['by'];
  last_resort: PolicyConfig['lastResort'];
  failback: PolicyConfig['failback'];
  links: { name: string; share: number; mark: number | null; table: number | null; connections: number | null }[];
  families: PolicyFamilyStatus[];
}

export interface PoliciesStatus {
  policies: PolicyStatus[];
  traffic: TrafficRule[];
  default_policy: string | null;
  mark_mask: number;
  /** The mark of refused traffic; null when no policy refuses. */
  unreachable_mark: number | null;
  hash_seed: number;
  buckets: number;
}
