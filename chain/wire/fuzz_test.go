package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to ReadMessage: it must never panic,
// and whatever decodes must re-encode to a frame that decodes to the same
// message.
func FuzzReadMessage(f *testing.F) {
	for _, m := range allMessages(f)[:12] {
		if fr, err := EncodeMessage(MainnetMagic, m); err == nil && len(fr) < 4096 {
			f.Add(fr)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for i := 0; i < 4; i++ { // a few frames per input
			m, err := ReadMessage(r, MainnetMagic, 1<<16)
			if err != nil {
				var me *MessageError
				if errors.As(err, &me) {
					continue // payload error: the stream is still in sync
				}
				if err != io.EOF && err.Error() == "" {
					t.Fatal("empty error message")
				}
				return
			}
			frame, err := EncodeMessage(MainnetMagic, m)
			if err != nil {
				t.Fatalf("decoded %s does not re-encode: %v", m.Command(), err)
			}
			again, err := ReadMessage(bytes.NewReader(frame), MainnetMagic, 1<<16)
			if err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", m.Command(), err)
			}
			if !reflect.DeepEqual(normalize(again), normalize(m)) {
				t.Fatalf("%s changed on round trip:\n%+v\n%+v", m.Command(), m, again)
			}
		}
	})
}
