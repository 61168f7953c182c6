// Package grants decides over verified requests the way SanteDB and SMART
// App Launch servers do, so the gateway can refuse before the upstream sees a
// request:
//
//   - grant-type policies (SanteDB policy OIDs 1.3.6.1.4.1.33349.3.1.5.9.2.1.0.0…)
//     denied or granted per device, application and security role, combined
//     most-restrictively, at the token endpoint and on resource routes;
//   - device credentials (X-Device-Authorization, bcrypt-hashed secrets);
//   - required policy OIDs, matched exactly against the token's scope;
//   - SMART App Launch v1 and v2 scopes, enforced per FHIR interaction, with
//     the patient compartment for patient/ scopes;
//   - break-the-glass: the X-SanteDBClient-Claim header checked against the
//     token that must carry the override.
//
// Every denial is a *pipeline.Failure with a stable reason code (reason.go).
// The package does not import Caddy.
package grants
