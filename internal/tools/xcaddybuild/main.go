// Command xcaddybuild builds a custom Caddy from xcaddy.json with the real
// xcaddy (pinned as a Go tool in go.mod) and checks that the build lists the
// expected modules:
//
//	go run ./internal/tools/xcaddybuild [-manifest xcaddy.json]
//
// xcaddy has no manifest format of its own; xcaddy.json records the Caddy
// version and the plugins (with an optional local replacement) so a build
// is reproducible from a file under review.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type manifest struct {
	CaddyVersion string `json:"caddy_version"`
	Output       string `json:"output"`
	Plugins      []struct {
		Module  string `json:"module"`
		Version string `json:"version,omitempty"`
		Replace string `json:"replace,omitempty"`
	} `json:"plugins"`
	ExpectModules []string `json:"expect_modules"`
}

func main() {
	path := flag.String("manifest", "xcaddy.json", "the build manifest")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if m.CaddyVersion == "" || m.Output == "" {
		return fmt.Errorf("%s: caddy_version and output are required", path)
	}
	base := filepath.Dir(path)
	out, err := filepath.Abs(filepath.Join(base, m.Output))
	if err != nil {
		return err
	}
	args := []string{"tool", "xcaddy", "build", m.CaddyVersion, "--output", out}
	for _, p := range m.Plugins {
		with := p.Module
		switch {
		case p.Replace != "":
			dir, err := filepath.Abs(filepath.Join(base, p.Replace))
			if err != nil {
				return err
			}
			with += "=" + dir
		case p.Version != "":
			with += "@" + p.Version
		}
		args = append(args, "--with", with)
	}
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// A module path the proxy does not know answers 403/400, not 404, so
	// Go would not fall back to the local replacement; "|off" makes any
	// proxy error fall through to it.
	proxy := strings.SplitN(goEnv("GOPROXY"), ",", 2)[0]
	cmd.Env = append(os.Environ(), "GOPROXY="+proxy+"|off")
	fmt.Println("+ go", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("xcaddy build: %w", err)
	}

	list, err := exec.Command(out, "list-modules").Output()
	if err != nil {
		return fmt.Errorf("%s list-modules: %w", out, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(list)) {
		have[l] = true
	}
	var missing []string
	for _, want := range m.ExpectModules {
		if !have[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the xcaddy build lacks modules %v", missing)
	}
	fmt.Printf("xcaddy build %s lists all %d expected modules\n", out, len(m.ExpectModules))
	return nil
}

func goEnv(key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return "https://proxy.golang.org"
	}
	return strings.TrimSpace(string(out))
}
