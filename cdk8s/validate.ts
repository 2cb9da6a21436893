// Synth-time validation with the CRDs' own zod schemas: the same rules the
// apiserver and the operator apply, reported by cdk8s as `[<construct path>] ...`
// when the chart is synthesized (App.synth, Chart.toJson, Testing.synth).
import type { Construct } from 'constructs';
import type { z } from 'zod';

export function validateWith(scope: Construct, schema: z.ZodType, spec: () => unknown, extra: () => string[] = () => []): void {
  scope.node.addValidation({
    validate: () => {
      const r = schema.safeParse(spec());
      const issues = r.success ? [] : r.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`);
      return [...issues, ...extra()];
    },
  });
}

/** JSON without undefined members (cdk8s would otherwise emit nothing or null inconsistently). */
export const clean = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
