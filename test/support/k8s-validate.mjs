// Validates Kubernetes objects against their OpenAPI schemas with kubernetes-models (the Kubernetes
// 1.32 API) and @kubernetes-models/prometheus-operator (monitoring.coreos.com/v1).
//
//   node test/support/k8s-validate.mjs < objects.json   ->   [{ kind, name, error }] on stdout
//
// A separate ES module run by plain Node because both packages ship ES modules only, with an
// `import`-only export map that jest's CommonJS resolver cannot follow. A kind it has no schema for
// is reported as an error: an object nobody checked must not pass for a checked one.
import { readFileSync } from 'node:fs';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';

const MODELS = new Map(
  [Namespace, ConfigMap, Secret, Service, Deployment, PodDisruptionBudget, ServiceMonitor, PodMonitor].map(
    (Model) => [`${Model.apiVersion}/${Model.kind}`, Model],
  ),
);

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = objects.map((obj) => {
  const kind = `${obj.apiVersion}/${obj.kind}`;
  const name = obj.metadata?.name ?? '(no name)';
  const Model = MODELS.get(kind);
  if (!Model) return { kind, name, error: `no schema known here for ${kind}` };
  try {
    new Model(obj).validate();
    return { kind, name, error: null };
  } catch (err) {
    return { kind, name, error: err instanceof Error ? err.message : String(err) };
  }
});
process.stdout.write(JSON.stringify(results));
