package testsupport

import "testing"

func TestSeedIsOnePerTest(t *testing.T) {
	t.Setenv(EnvSeed, "")
	first := Seed(t)
	if again := Seed(t); again != first {
		t.Fatalf("second Seed call in one test = %d, want the first one's %d", again, first)
	}
	// A subtest has a seed of its own; it must not replace its parent's.
	t.Run("subtest", func(t *testing.T) { Seed(t) })
	if again := Seed(t); again != first {
		t.Fatalf("Seed after a subtest = %d, want %d", again, first)
	}
}

func TestSeedFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int64
	}{
		{"42", 42},
		{"-7", -7},
		{"1795354641751712322", 1795354641751712322},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(EnvSeed, tc.env)
			if got := Seed(t); got != tc.want {
				t.Fatalf("Seed with %s=%s = %d, want %d", EnvSeed, tc.env, got, tc.want)
			}
		})
	}
}
