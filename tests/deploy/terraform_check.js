// Parses every .tf and .tfvars under terraform/ with @cdktf/hcl2json
// (HashiCorp's HCL parser compiled to WebAssembly) and checks that every
// variable has a description, every output a description, every variable a
// tfvars file leaves out has a default or is provided per environment, and
// that each tfvars file sets only declared variables.
// Usage: node terraform_check.js TERRAFORM_DIR; exits 1 on any problem.
const fs = require("fs");
const path = require("path");
const { parse } = require("@cdktf/hcl2json");

(async () => {
  const dir = process.argv[2];
  const files = fs.readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith(".tf") || f.endsWith(".tfvars")).sort();
  let problems = 0;
  const bad = (m) => { console.log(m); problems++; };
  const vars = {}, tfvars = {};
  for (const f of files) {
    let json;
    try {
      json = await parse(f, fs.readFileSync(path.join(dir, f), "utf8"));
    } catch (e) {
      bad(`terraform/${f}: ${e}`);
      continue;
    }
    if (f.endsWith(".tfvars")) { tfvars[f] = json; continue; }
    for (const [name, [v]] of Object.entries(json.variable || {})) {
      vars[name] = v;
      if (!v.description) bad(`terraform/${f}: variable "${name}" has no description`);
    }
    for (const [name, [o]] of Object.entries(json.output || {}))
      if (!o.description) bad(`terraform/${f}: output "${name}" has no description`);
  }
  const platform = ["vpc_id", "vpc_cidr", "private_subnet_ids", "eks_cluster_name",
                    "eks_oidc_provider_arn", "eks_oidc_provider_url"];
  for (const [f, values] of Object.entries(tfvars)) {
    for (const k of Object.keys(values))
      if (!vars[k]) bad(`terraform/${f}: sets undeclared variable "${k}"`);
    for (const [name, v] of Object.entries(vars))
      if (v.default === undefined && !(name in values) && !platform.includes(name))
        bad(`terraform/${f}: required variable "${name}" is not set`);
  }
  console.log(`terraform: ${files.length} files parsed, ${Object.keys(vars).length} variables, ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
