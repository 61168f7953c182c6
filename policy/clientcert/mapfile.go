package clientcert

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/google/shlex"
)

// LoadMapFile adds the rules of a mapping file to m. The file holds one
// rule per line in the form ParseRule reads, words separated by white space
// and quoted with "…" where they contain some; '#' starts a comment and
// blank lines are skipped:
//
//	# SanteDB devices, by SHA-1 thumbprint
//	sha1   59EC967D51DA999AB4EE0E082C12ED288DD05FAB  device       ward-tablet-7
//	sha256 9f86d0…                                  application  lab-app
//	san_uri spiffe://hospital/app/*                  application  {1}
//	subject "CN=*,OU=Devices,O=Hospital"             device       {1}  issuer "Hospital Device CA"
//
// Errors name the file and line.
func LoadMapFile(m *Mapper, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("clientcert: opening mapping file: %w", err)
	}
	defer f.Close()
	return ReadMap(m, f, path)
}

// ReadMap reads mapping rules from r; name labels errors.
func ReadMap(m *Mapper, r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		words, err := shlex.Split(sc.Text())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if len(words) == 0 {
			continue
		}
		rule, err := ParseRule(words)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := m.Add(rule); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: reading mapping file: %w", name, err)
	}
	return nil
}
