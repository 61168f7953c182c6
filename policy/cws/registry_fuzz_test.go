package cws

import (
	"strings"
	"testing"
)

// FuzzScanKeyList checks that any key list splits or fails cleanly, and
// that every entry it yields names a valid user, its line, and a block that
// starts with a PEM header (no text before a key is ever swallowed).
func FuzzScanKeyList(f *testing.F) {
	f.Add([]byte("# users\nalice\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("alice\nbob\n-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n"))
	f.Add([]byte("a\r\n-----END \r\n\r\n#\r\nb\n-----END"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pending, err := scanKeyList(data, "users.txt")
		if err != nil {
			return
		}
		for _, p := range pending {
			if CheckUser(p.user) != nil {
				t.Fatalf("entry with invalid user %q", p.user)
			}
			if !strings.HasPrefix(p.origin, "users.txt:") {
				t.Fatalf("entry without a line: %q", p.origin)
			}
			if !strings.Contains(string(p.data), "-----END ") {
				t.Fatalf("entry %q without an END line", p.user)
			}
			// Parsing may fail, but must not panic.
			_, _ = p.parse()
		}
	})
}
