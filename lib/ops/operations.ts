// Placeholder: the `op` object handed to upgrade/downgrade (being written; see lib/ops).
export interface Operations {}
