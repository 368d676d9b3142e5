package dht

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe"))
	f.Add([]byte("d1:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes26:bbbbbbbbbbbbbbbbbbbbcccccc5:token2:tk6:valuesl6:ddddddee1:t2:aa1:y1:re"))
	f.Add([]byte("d1:eli201e4:oopse1:t2:aa1:y1:ee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data)
		if err != nil {
			return
		}
		if len(m.R.Values) > maxValues || len(m.R.Nodes) > 2*maxNodes || len(m.T) > maxTxID {
			t.Fatalf("limits exceeded: %d values %d nodes", len(m.R.Values), len(m.R.Nodes))
		}
		// What decodes re-encodes to something that decodes the same way.
		var again []byte
		switch m.Y {
		case 'q':
			a := m.A
			again = encodeQuery(nil, m.T, m.Q, &a, false)
		case 'r':
			again = encodeResponse(nil, m.T, m.IP, &m.R)
		case 'e':
			again = encodeError(nil, m.T, m.E.Code, m.E.Msg)
		}
		m2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%q", err, again)
		}
		if m2.Y != m.Y || string(m2.T) != string(m.T) {
			t.Fatalf("re-decoded differs")
		}
	})
}
