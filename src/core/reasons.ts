// Why a reconcile pass runs, as typed values: the log says it, and sticky's step checks its nftables
// table on the passes that look for drift.

export type PassReason = 'start' | 'reload' | 'ready' | 'probe' | 'damping' | 'retry' | 'request' | 'kernel event' | 'nft event' | 'periodic check';

/** Passes that look for haip's nftables table having gone missing. */
export const CHECKS_NFT: ReadonlySet<PassReason> = new Set<PassReason>(['nft event', 'periodic check']);
