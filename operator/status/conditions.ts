// kstatus-compatible conditions (Ready, Reconciling, Stalled) that Flux, Argo CD
// and `kubectl wait --for=condition=Ready` understand. lastTransitionTime only
// moves when the status of a condition changes, so recomputing is write-free.
import type { Condition } from '../../crds/schema/common.js';

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled';

/** Outcome of one reconcile, from which the three conditions follow. */
export type Outcome =
  | { state: 'Ready'; reason: string; message: string }
  | { state: 'Progressing'; reason: string; message: string }
  | { state: 'Stalled'; reason: string; message: string };

export function conditionsFor(outcome: Outcome, generation: number, previous: Condition[] = [], now = new Date()): Condition[] {
  const want: Array<Omit<Condition, 'lastTransitionTime'>> = [];
  const g = { observedGeneration: generation };
  switch (outcome.state) {
    case 'Ready':
      want.push({ type: 'Ready', status: 'True', reason: outcome.reason, message: outcome.message, ...g });
      want.push({ type: 'Reconciling', status: 'False', reason: outcome.reason, message: 'Reconciliation complete.', ...g });
      want.push({ type: 'Stalled', status: 'False', reason: outcome.reason, message: 'Not stalled.', ...g });
      break;
    case 'Progressing':
      want.push({ type: 'Ready', status: 'False', reason: outcome.reason, message: outcome.message, ...g });
      want.push({ type: 'Reconciling', status: 'True', reason: outcome.reason, message: outcome.message, ...g });
      want.push({ type: 'Stalled', status: 'False', reason: outcome.reason, message: 'Not stalled.', ...g });
      break;
    case 'Stalled':
      want.push({ type: 'Ready', status: 'False', reason: outcome.reason, message: outcome.message, ...g });
      want.push({ type: 'Reconciling', status: 'False', reason: outcome.reason, message: 'Waiting for a change (retried periodically).', ...g });
      want.push({ type: 'Stalled', status: 'True', reason: outcome.reason, message: outcome.message, ...g });
      break;
  }
  return want.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { ...c, lastTransitionTime };
  });
}

export const readyCondition = (conds: Condition[] | undefined) => conds?.find((c) => c.type === 'Ready');
