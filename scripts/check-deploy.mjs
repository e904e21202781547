#!/usr/bin/env node
// Static checks of what deploys the bank, for machines without a Docker engine or a cluster
// (npm run check:deploy, in CI):
//   compose:    docker-compose.yml parses; every service has an image or a build, a healthcheck
//               (the one-shot migrations excepted) and waits on its dependencies by condition;
//               every ${VAR} it reads is in .env.example; no password is written in it.
//   kubernetes: every manifest under deploy/k8s/base parses and validates against the Kubernetes
//               schemas (kubernetes-models); every Deployment has readiness and liveness probes and
//               CPU and memory requests and limits; each NetworkPolicy of a gRPC service admits
//               exactly the workloads the trust table lets call it; the overlays' resources exist.
//   images:     every COPY source of the Dockerfile exists and is not in .dockerignore.
//   prometheus: deploy/prometheus/prometheus.yml scrapes every service on its metrics port.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const read = (f) => readFileSync(path.join(ROOT, f), 'utf8');
const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

// The services and their ports, from the code's one home for them (built by tsc -b first).
const contracts = require(path.join(ROOT, 'packages', 'contracts', 'dist', 'index.js'));
const GRPC_SERVICES = Object.keys(contracts.DEFAULT_GRPC_PORTS);
const APPS = [...GRPC_SERVICES, 'api-gateway'];
const GATEWAY_OPS_PORT = 9464;
// A variable with a bank prefix that no service reads makes the services refuse to start.
const { KNOWN_ENV_VARS } = require(path.join(ROOT, 'packages', 'platform', 'dist', 'env.js'));
const { BANK_PREFIXES } = require(path.join(ROOT, 'packages', 'platform', 'dist', 'config.js'));
const KNOWN = new Set(KNOWN_ENV_VARS);
function checkVariable(where, name) {
  if (BANK_PREFIXES.test(name) && !KNOWN.has(name)) problem(where, `sets ${name}, a bank-prefixed variable no service reads: the services would refuse to start`);
}

function checkCompose() {
  const file = 'docker-compose.yml';
  const doc = parse(read(file), { merge: true });
  const services = doc?.services ?? {};
  const envExample = read('.env.example');
  const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
  for (const app of APPS) if (!services[app]) problem(file, `no service ${app}`);
  for (const [name, s] of Object.entries(services)) {
    const where = `${file} ${name}`;
    if (!s.image && !s.build) problem(where, 'has neither an image nor a build');
    const oneShot = s.restart === 'no';
    if (!oneShot && (!s.healthcheck || s.healthcheck.disable)) problem(where, 'has no healthcheck');
    const deps = s.depends_on ?? {};
    if (Array.isArray(deps)) problem(where, 'depends_on without conditions (a list): it would not wait for health');
    for (const [dep, how] of Object.entries(Array.isArray(deps) ? {} : deps)) {
      const target = services[dep];
      if (!target) problem(where, `depends on ${dep}, which is not a service`);
      else if (how?.condition === 'service_healthy' && (!target.healthcheck || target.healthcheck.disable)) problem(where, `waits for ${dep} to be healthy, and ${dep} has no healthcheck`);
      else if (!['service_healthy', 'service_completed_successfully'].includes(how?.condition)) problem(where, `waits for ${dep} by ${how?.condition ?? 'nothing'}, not by health or completion`);
    }
    for (const k of Object.keys(s.environment ?? {})) checkVariable(where, k);
    for (const [k, v] of Object.entries(s.environment ?? {})) {
      if (/PASSWORD|SECRET|PRIVATE_KEY/.test(k) && typeof v === 'string' && !v.includes('${')) problem(where, `${k} is written in the file: a default secret`);
    }
  }
  const depended = new Set(Object.values(services).flatMap((s) => Object.keys(Array.isArray(s.depends_on) ? {} : (s.depends_on ?? {}))));
  for (const [name, s] of Object.entries(services)) if (s.restart === 'no' && !depended.has(name)) problem(`${file} ${name}`, 'a one-shot service nothing waits for');
  for (const m of read(file).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) if (!documented.has(m[1])) problem(file, `reads \${${m[1]}}, which .env.example does not list`);
}

/** Kubernetes objects by apiVersion and kind, validated with kubernetes-models' schemas. */
function modelOf(apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion : `v1`;
  const modulePath = `kubernetes-models/${group}/${kind}`;
  try {
    return require(modulePath)[kind];
  } catch {
    return undefined;
  }
}

function checkKubernetes() {
  const base = path.join('deploy', 'k8s', 'base');
  const kustomization = parse(read(path.join(base, 'kustomization.yaml')));
  const listed = new Set(kustomization.resources ?? []);
  const files = readdirSync(path.join(ROOT, base)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  for (const f of files) if (!listed.has(f)) problem(base, `${f} is not in kustomization.yaml`);
  for (const f of listed) if (!files.includes(f)) problem(base, `kustomization.yaml lists ${f}, which does not exist`);
  const objects = [];
  for (const f of files) {
    for (const d of parseAllDocuments(read(path.join(base, f)))) {
      if (d.errors.length > 0) {
        problem(`${base}/${f}`, d.errors.map((e) => e.message).join('; '));
        continue;
      }
      const o = d.toJS();
      if (o === null) continue;
      objects.push({ file: f, o });
      const Model = modelOf(o.apiVersion, o.kind);
      if (!Model) {
        problem(`${base}/${f}`, `no schema for ${o.apiVersion} ${o.kind}`);
        continue;
      }
      try {
        new Model(o).validate();
      } catch (e) {
        problem(`${base}/${f} ${o.kind}/${o.metadata?.name}`, `invalid: ${e.message}`);
      }
    }
  }
  const of = (kind) => objects.filter((x) => x.o.kind === kind);
  for (const { file, o } of [...of('Deployment'), ...of('Job')]) {
    const pod = o.spec.template.spec;
    // Kubernetes injects <SERVICE>_PORT, <SERVICE>_SERVICE_HOST, ... for every Service: bank prefixes.
    if (pod.enableServiceLinks !== false) problem(`${base}/${file} ${o.kind}/${o.metadata.name}`, 'enableServiceLinks is not false: the service-link variables would make the services refuse to start');
    for (const c of pod.containers) for (const e of c.env ?? []) checkVariable(`${base}/${file} ${o.metadata.name}/${c.name}`, e.name);
  }
  for (const { file, o } of of('Deployment')) {
    for (const c of o.spec.template.spec.containers) {
      const where = `${base}/${file} ${o.metadata.name}/${c.name}`;
      if (!c.readinessProbe) problem(where, 'no readinessProbe');
      if (!c.livenessProbe) problem(where, 'no livenessProbe');
      for (const r of ['requests', 'limits']) for (const k of ['cpu', 'memory']) if (!c.resources?.[r]?.[k]) problem(where, `no ${r}.${k}`);
    }
  }
  for (const app of APPS) if (!of('Deployment').some((x) => x.o.metadata.name === app)) problem(base, `no Deployment of ${app}`);
  if (!of('Job').some((x) => JSON.stringify(x.o.spec.template.spec.containers[0].args) === JSON.stringify(['migrate', 'up', '--all']))) problem(base, 'no migration Job (bank-cli migrate up --all)');
  // Who may reach each gRPC service: the trust table's callers of its RPCs, nobody else.
  const callers = new Map();
  for (const rpc of contracts.authorizedRpcs()) {
    const server = contracts.serverOf(rpc);
    if (server === undefined) continue;
    if (!callers.has(server)) callers.set(server, new Set());
    for (const c of contracts.callersOf(rpc)) callers.get(server).add(c);
  }
  for (const svc of GRPC_SERVICES) {
    const policy = of('NetworkPolicy').find((x) => x.o.spec.podSelector?.matchLabels?.app === svc);
    if (!policy) {
      problem(base, `no NetworkPolicy for ${svc}`);
      continue;
    }
    const grpcPort = contracts.DEFAULT_GRPC_PORTS[svc];
    const rule = policy.o.spec.ingress.find((r) => (r.ports ?? []).some((p) => p.port === grpcPort));
    const allowed = new Set((rule?.from ?? []).map((f) => f.podSelector?.matchLabels?.app).filter(Boolean));
    const expected = callers.get(svc) ?? new Set();
    const extra = [...allowed].filter((a) => !expected.has(a));
    const missing = [...expected].filter((a) => !allowed.has(a));
    if (extra.length > 0 || missing.length > 0) problem(`${base}/${policy.file}`, `${svc}'s gRPC port admits [${[...allowed].sort()}], the trust table [${[...expected].sort()}]`);
    if ((rule?.from ?? []).some((f) => !f.podSelector)) problem(`${base}/${policy.file}`, `${svc}'s gRPC port admits more than named workloads`);
  }
  for (const overlay of readdirSync(path.join(ROOT, 'deploy', 'k8s', 'overlays'))) {
    const dir = path.join('deploy', 'k8s', 'overlays', overlay);
    const k = parse(read(path.join(dir, 'kustomization.yaml')));
    for (const r of k.resources ?? []) if (!existsSync(path.join(ROOT, dir, r))) problem(dir, `resource ${r} does not exist`);
  }
}

function checkDockerfile() {
  const file = 'Dockerfile';
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
  const lines = read(file).replace(/\\\n/g, ' ').split('\n');
  let copies = 0;
  for (const line of lines) {
    const m = /^\s*COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const args = m[1].split(/\s+/).filter(Boolean);
    if (args.some((a) => a.startsWith('--from'))) continue;
    const sources = args.filter((a) => !a.startsWith('--')).slice(0, -1);
    for (const s of sources) {
      copies += 1;
      if (!existsSync(path.join(ROOT, s))) problem(file, `COPY ${s}: no such file or folder`);
      if (ignored.some((i) => i.replace(/^\*\*\//, '') === s.replace(/\/$/, ''))) problem(file, `COPY ${s}, which .dockerignore leaves out`);
    }
  }
  if (copies === 0) problem(file, 'copies nothing from the context');
  const text = read(file);
  for (const m of text.replace(/\\\n/g, ' ').matchAll(/^\s*ENV\s+(.*)$/gm)) for (const kv of m[1].trim().split(/\s+/)) checkVariable(file, kv.split('=')[0]);
  if (!/^\s*USER\s+(?!root)\S+/m.test(text)) problem(file, 'runs as root (no USER)');
  if (!/^\s*HEALTHCHECK\s/m.test(text)) problem(file, 'no HEALTHCHECK');
  const serviceStart = `exec node ${contracts.SERVICE_NODE_FLAGS.join(' ')} \\"apps/$APP_NAME/dist/main.js\\"`;
  if (!text.includes(serviceStart)) problem(file, `the entrypoint does not start a service as ${serviceStart} (contracts' SERVICE_NODE_FLAGS)`);
  if (!/NODE_ENV=production/.test(text)) problem(file, 'NODE_ENV is not production');
  if (/^\s*(CMD|ENTRYPOINT)\s.*\bnpm\b/m.test(text)) problem(file, 'npm as the process: signals would not reach node');
}

function checkPrometheus() {
  const file = path.join('deploy', 'prometheus', 'prometheus.yml');
  const targets = new Set(parse(read(file)).scrape_configs.flatMap((c) => (c.static_configs ?? []).flatMap((s) => s.targets)));
  for (const svc of GRPC_SERVICES) if (!targets.has(`${svc}:${contracts.DEFAULT_METRICS_PORTS[svc]}`)) problem(file, `does not scrape ${svc}:${contracts.DEFAULT_METRICS_PORTS[svc]}`);
  if (!targets.has(`api-gateway:${GATEWAY_OPS_PORT}`)) problem(file, `does not scrape api-gateway:${GATEWAY_OPS_PORT}`);
}

for (const check of [checkCompose, checkKubernetes, checkDockerfile, checkPrometheus]) {
  try {
    check();
  } catch (e) {
    problem(check.name, `could not run: ${e.stack ?? e}`);
  }
}
if (problems.length > 0) {
  console.error(`check-deploy: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('check-deploy: compose, Kubernetes manifests, Dockerfile and Prometheus config are consistent');
