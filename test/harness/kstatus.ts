// kstatus (sigs.k8s.io/cli-utils/pkg/kstatus, used by Flux and `kubectl wait`
// style tooling) as its README specifies it for custom resources, written here
// as an independent oracle: Terminating while deleting; InProgress until
// status.observedGeneration reaches metadata.generation; Reconciling=True is
// InProgress, Stalled=True is Failed ("abnormal-true" conditions); otherwise
// Current.
export type KStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating';

export function kstatus(obj: any): KStatus {
  if (obj.metadata?.deletionTimestamp) return 'Terminating';
  const st = obj.status ?? {};
  if (st.observedGeneration !== undefined && st.observedGeneration !== obj.metadata?.generation) return 'InProgress';
  const cond = (t: string) => (st.conditions ?? []).find((c: any) => c.type === t);
  if (cond('Reconciling')?.status === 'True') return 'InProgress';
  if (cond('Stalled')?.status === 'True') return 'Failed';
  return 'Current';
}
