package sshlink

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func fingerprint(key ssh.PublicKey) string {
	sum := sha256.Sum256(key.Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// hostKeys returns the host key callback and algorithms for a target.
func hostKeys(t *Target) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range t.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	var db *knownhosts.HostKeyDB
	if len(files) > 0 {
		var err error
		if db, err = knownhosts.NewDB(files...); err != nil {
			return nil, nil, fmt.Errorf("read known_hosts: %w", err)
		}
	}
	acceptNew := t.StrictHostKeys == "accept-new" || t.StrictHostKeys == "no"
	record := t.KnownHosts[0]
	var mu sync.Mutex
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		hp := t.hostPort()
		var err error
		if db != nil {
			err = db.HostKeyCallback()(hostname, remote, key)
		} else {
			err = &xknownhosts.KeyError{} // no file: unknown
		}
		var kerr *xknownhosts.KeyError
		if err == nil || !errors.As(err, &kerr) {
			return err
		}
		if len(kerr.Want) > 0 {
			var lines []string
			for _, w := range kerr.Want {
				lines = append(lines, fmt.Sprintf("%s:%d", w.Filename, w.Line))
			}
			return &ChangedHostKeyError{Host: hp, Fingerprint: fingerprint(key), Lines: lines}
		}
		if !acceptNew {
			return &UnknownHostError{Host: hp, KeyType: key.Type(), Fingerprint: fingerprint(key), KnownHosts: record}
		}
		// The user accepts new hosts: record it, as ssh does.
		mu.Lock()
		defer mu.Unlock()
		if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("record the host key in %s: %w", record, err)
		}
		defer f.Close()
		_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hp)}, key))
		return err
	}
	var algos []string
	if db != nil {
		algos = db.HostKeyAlgorithms(t.hostPort())
	}
	return cb, algos, nil
}

// authMethods returns how to authenticate to a target, notes on the keys
// it skipped, and the connection to the ssh-agent (nil without one),
// which its keys sign through: the caller closes it once the handshake
// is over.
func (e Env) authMethods(t *Target) ([]ssh.AuthMethod, []string, net.Conn) {
	var notes []string
	var agentSigners []ssh.Signer
	var agentConn net.Conn
	if sock := e.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			agentConn = conn
			if s, err := agent.NewClient(conn).Signers(); err == nil {
				agentSigners = s
			}
		} else {
			notes = append(notes, "cannot reach the ssh-agent at "+sock+": "+err.Error())
		}
	}
	load := func(path string, explicit bool) ssh.Signer {
		data, err := os.ReadFile(path)
		if err != nil {
			if explicit {
				notes = append(notes, "identity file "+path+": "+err.Error())
			}
			return nil
		}
		s, err := ssh.ParsePrivateKey(data)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			notes = append(notes, "skipped "+path+": it is encrypted and the ssh-agent does not hold it (ssh-add it)")
			return nil
		}
		if err != nil {
			notes = append(notes, "skipped "+path+": "+err.Error())
			return nil
		}
		return s
	}
	var signers []ssh.Signer
	for _, f := range t.IdentityFiles {
		if s := load(f, true); s != nil {
			signers = append(signers, s)
		}
	}
	if t.IdentitiesOnly {
		// Only the agent's keys that match a configured identity.
		for _, a := range agentSigners {
			for _, f := range t.IdentityFiles {
				if pub, err := os.ReadFile(f + ".pub"); err == nil {
					if pk, _, _, _, err := ssh.ParseAuthorizedKey(pub); err == nil && string(pk.Marshal()) == string(a.PublicKey().Marshal()) {
						signers = append(signers, a)
					}
				}
			}
		}
	} else {
		signers = append(signers, agentSigners...)
		if len(t.IdentityFiles) == 0 {
			for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				if s := load(filepath.Join(e.Home, ".ssh", name), false); s != nil {
					signers = append(signers, s)
				}
			}
		}
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, notes, agentConn
}
