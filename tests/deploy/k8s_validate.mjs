// Validates every manifest under deploy/k8s against the Kubernetes OpenAPI
// schemas of kubernetes-models (and the prometheus-operator CRDs), checks
// that each kustomization lists files that exist, and that the
// PrometheusRule carries exactly the groups of deploy/prometheus/rules.yml.
// Usage: node k8s_validate.mjs REPO_ROOT; exits 1 on any problem.
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse } from "yaml";

const root = process.argv[2];
const k8s = path.join(root, "deploy/k8s");
const models = {
  "v1/Namespace": "kubernetes-models/v1/Namespace",
  "v1/ServiceAccount": "kubernetes-models/v1/ServiceAccount",
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "v1/Secret": "kubernetes-models/v1/Secret",
  "v1/Service": "kubernetes-models/v1/Service",
  "apps/v1/StatefulSet": "kubernetes-models/apps/v1/StatefulSet",
  "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
  "batch/v1/Job": "kubernetes-models/batch/v1/Job",
  "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
  "networking.k8s.io/v1/NetworkPolicy": "kubernetes-models/networking.k8s.io/v1/NetworkPolicy",
  "monitoring.coreos.com/v1/ServiceMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
};
let problems = 0, checked = 0;
const bad = (msg) => { console.log(msg); problems++; };

const files = fs.readdirSync(k8s, { recursive: true })
  .filter((f) => f.endsWith(".yaml")).map((f) => path.join(k8s, f)).sort();
for (const file of files) {
  const rel = path.relative(root, file);
  const text = fs.readFileSync(file, "utf8");
  if (path.basename(file) === "kustomization.yaml") {
    const k = parse(text);
    for (const r of k.resources || [])
      if (!fs.existsSync(path.join(path.dirname(file), r))) bad(`${rel}: resource ${r} does not exist`);
    continue;
  }
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) { bad(`${rel}: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const mod = models[key];
    if (!mod) { bad(`${rel}: no schema for ${key}`); continue; }
    const { [obj.kind]: Model } = await import(mod);
    try {
      new Model(obj).validate();
      checked++;
    } catch (e) {
      bad(`${rel}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`);
    }
    if (obj.kind === "PrometheusRule") {
      const rules = parse(fs.readFileSync(path.join(root, "deploy/prometheus/rules.yml"), "utf8"));
      if (JSON.stringify(rules.groups) !== JSON.stringify(obj.spec.groups))
        bad(`${rel}: groups differ from deploy/prometheus/rules.yml`);
    }
  }
}
console.log(`k8s: ${checked} objects valid in ${files.length} files, ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
