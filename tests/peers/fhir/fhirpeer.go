// Package fhirpeer runs the FHIR R4 validators of this npm peer (fhir.js and
// the medplum R4 JSON schema with ajv, see validate.js) from Go tests.
//
// Set up with `npm ci` in this directory. A test that needs the validators
// fails when node or the packages are absent, unless HEALTHGATE_ALLOW_SKIP=1
// lets it skip.
package fhirpeer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/healthgate/healthgate/internal/testutil"
)

// Result is the verdict on one resource.
type Result struct {
	Index        int      `json:"index"`
	ResourceType string   `json:"resourceType"`
	Valid        bool     `json:"valid"`
	Errors       []string `json:"errors"`
}

// Dir is the directory of the peer, found from the repository root so it
// works under -trimpath.
func Dir() string {
	root, err := testutil.RepoRoot()
	if err != nil {
		return filepath.Join("tests", "peers", "fhir")
	}
	return filepath.Join(root, "tests", "peers", "fhir")
}

// Validate validates doc (a resource, a JSON array of resources, or a Bundle
// whose entries are validated too) and returns one Result per resource.
func Validate(t testing.TB, doc []byte) []Result {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(Dir(), "node_modules", "fhir"))
	}
	if err != nil {
		if os.Getenv("HEALTHGATE_ALLOW_SKIP") == "1" {
			t.Skipf("fhir validators unavailable (run npm ci in %s): %v", Dir(), err)
		}
		t.Fatalf("fhir validators unavailable (run npm ci in %s): %v", Dir(), err)
	}
	cmd := exec.Command(node, filepath.Join(Dir(), "validate.js"))
	cmd.Stdin = bytes.NewReader(doc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("running validate.js: %v: %s", err, stderr.Bytes())
	}
	var rs []Result
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatalf("reading validate.js output %q: %v", out, err)
	}
	return rs
}

// RequireValid fails the test for every invalid resource in doc.
func RequireValid(t testing.TB, doc []byte) {
	t.Helper()
	for _, r := range Validate(t, doc) {
		if !r.Valid {
			t.Errorf("resource %d (%s) is not valid FHIR R4: %v", r.Index, r.ResourceType, r.Errors)
		}
	}
}
