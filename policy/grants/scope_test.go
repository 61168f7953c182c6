package grants

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		name, scope string
		want        Scope
		ok          bool
	}{
		{"v1 read means read and search", "patient/Observation.read", Scope{Context: ContextPatient, Type: "Observation", Perms: PermRead | PermSearch}, true},
		{"v1 write means create, update and delete", "user/*.write", Scope{Context: ContextUser, Type: "*", Perms: PermCreate | PermUpdate | PermDelete}, true},
		{"v1 star means everything", "system/*.*", Scope{Context: ContextSystem, Type: "*", Perms: permAll}, true},
		{"v2 letters are a set", "user/Appointment.cruds", Scope{Context: ContextUser, Type: "Appointment", Perms: permAll}, true},
		{"v2 letters may be a subset", "system/Encounter.cud", Scope{Context: ContextSystem, Type: "Encounter", Perms: PermCreate | PermUpdate | PermDelete}, true},
		{"v2 constraints are kept", "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			Scope{Context: ContextPatient, Type: "Observation", Perms: PermRead | PermSearch,
				Constraints: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}}, true},
		{"out-of-order letters are ignored", "patient/Observation.dus", Scope{}, false},
		{"repeated letters are ignored", "patient/Observation.rrs", Scope{}, false},
		{"unknown letters are ignored", "patient/Observation.rx", Scope{}, false},
		{"an unknown context is ignored", "admin/*.read", Scope{}, false},
		{"a lower-case type is ignored", "user/observation.read", Scope{}, false},
		{"v1 with constraints is ignored", "user/Observation.read?category=x", Scope{}, false},
		{"empty constraints are ignored", "user/Observation.rs?", Scope{}, false},
		{"a policy OID is not a SMART scope", "1.3.6.1.4.1.33349.3.1.5.9.2.1", Scope{}, false},
		{"openid is not a SMART scope", "openid", Scope{}, false},
		{"launch/patient is not a data scope", "launch/patient", Scope{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseScope(tt.scope)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok {
				tt.want.Raw = tt.scope
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseScope checks that no scope panics the parser and that an
// accepted scope has a context, a type and permissions.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"patient/Observation.rs?category=x", "user/*.read", "system/*.cruds"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := ParseScope(s)
		if !ok {
			return
		}
		if sc.Perms == 0 || sc.Perms > permAll || sc.Type == "" || sc.Raw != s {
			t.Fatalf("accepted %q as %+v", s, sc)
		}
	})
}
