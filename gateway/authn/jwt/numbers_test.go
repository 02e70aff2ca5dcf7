package jwt

import (
	"encoding/json"
	"testing"
	"time"
)

// TestClaimNumbersKeepTheirText: numbers reach the policy and the decision
// log as the issuer wrote them (1796114918, not 1.796114918e+09), big
// integers with every digit, and the time claims are still read from them.
func TestClaimNumbersKeepTheirText(t *testing.T) {
	t.Parallel()
	claims, err := decodeObject([]byte(`{"exp": 1796114918, "iat": 1796111318.5, "big": 123456789012345678901, "n": [-1, 2e3]}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]json.Number{"exp": "1796114918", "iat": "1796111318.5", "big": "123456789012345678901"} {
		if got, ok := claims[name].(json.Number); !ok || got != want {
			t.Errorf("%s = %#v, want json.Number(%q)", name, claims[name], want)
		}
	}
	if got := claims["n"].([]any); got[0] != json.Number("-1") || got[1] != json.Number("2e3") {
		t.Errorf("n = %#v", got)
	}
	exp, err := numericDate(compact(claims), "exp")
	if err != nil || !exp.Equal(time.Unix(1796114918, 0)) {
		t.Fatalf("exp = %v, %v", exp, err)
	}
	iat, err := numericDate(claims, "iat")
	if err != nil || !iat.Equal(time.Unix(1796111318, 5e8)) {
		t.Fatalf("iat = %v, %v", iat, err)
	}
}

func TestNumericDateRefusesWhatIsNotOne(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		`{"exp": "1796114918"}`, `{"exp": -1}`, `{"exp": 1e400}`, `{"exp": 253402300800}`, `{"exp": true}`, `{"exp": null}`, `{"exp": [1]}`,
	} {
		claims, err := decodeObject([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := numericDate(claims, "exp"); err == nil {
			t.Errorf("%s: accepted as a NumericDate", payload)
		}
	}
	if _, err := numericDate(map[string]any{"exp": float64(1796114918)}, "exp"); err != nil {
		t.Errorf("a float64 NumericDate is refused: %v", err)
	}
}
