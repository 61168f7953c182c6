// Package harness runs the built healthgate gateway for end-to-end tests:
// one binary per test run, started with a Caddyfile, in front of a recording
// upstream, with certificates made in the test.
//
//	pki := harness.NewPKI(t)
//	up := harness.NewUpstream(t)
//	gw := harness.Start(t, harness.Config{Caddyfile: fmt.Sprintf(`...%s...`, up.Addr)})
//	resp := gw.Get(t, pki.Client(t, pki.Issue(t, "device", devpki.Options{...})), "/Patient/1")
package harness
