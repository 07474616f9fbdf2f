package odutest

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// SecretForms returns what of a secret must appear nowhere once odu has
// masked it: the value, its URL and JSON encodings, and every
// 8-character piece of the part of its base64 encodings (at each
// alignment, both alphabets) that encodes it alone. It is computed with
// the standard library, independently of odu's masker.
func SecretForms(secret string) []string {
	js, _ := json.Marshal(secret)
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), strings.Trim(string(js), `"`),
		strings.ReplaceAll(secret, `"`, `\"`)}
	for _, pre := range []string{"", "x", "xy"} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString([]byte(pre + secret + "!"))
			body := e[(8*len(pre)+5)/6 : 8*(len(pre)+len(secret))/6]
			for i := 0; i+8 <= len(body); i++ {
				forms = append(forms, body[i:i+8])
			}
		}
	}
	return forms
}
