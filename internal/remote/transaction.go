package remote

import (
	"log/slog"
	"slices"
)

// transactions sends the message to the pending recipients in as many
// mail transactions as needed: the server may cap recipients per
// transaction (LIMITS RCPTMAX, RFC 9422) or refuse the excess with 452
// (RFC 5321 section 4.5.3.1.10), and those recipients are better served by
// another transaction now than by the queue's next retry.
func (c *Client) transactions(cn *conn, d *delivery, env envelope, h hop, log *slog.Logger) *hostFailure {
	pending := d.pending()
	per := cn.rcptMax()
	for n := 0; len(pending) > 0; n++ {
		k := len(pending)
		if per > 0 && k > per {
			k = per
		}
		batch, rest := pending[:k], pending[k:]
		retry, hf := c.transaction(cn, d, env, batch, n > 0, h, log)
		if hf != nil {
			return hf
		}
		// retry is non-empty only when this transaction delivered to
		// someone, so each round has fewer recipients: this ends.
		for _, i := range retry {
			d.done[i] = false
		}
		pending = append(slices.Clone(retry), rest...)
	}
	return nil
}

// transaction runs one mail transaction for batch (indexes into the
// recipients). Recipients the server answered for are settled. It returns
// the recipients refused with 452 if others were delivered, to be tried
// again in a new transaction, and a hostFailure if the server failed
// before it answered for the message.
func (c *Client) transaction(cn *conn, d *delivery, env envelope, batch []int, reset bool, h hop, log *slog.Logger) (retry []int, hf *hostFailure) {
	body, err := d.m.Open()
	if err != nil {
		f := localFailure(false, "4.3.0", "cannot read the message: %v", err)
		for _, i := range batch {
			d.settle(i, f, "", false)
		}
		return nil, nil
	}
	defer body.Close()

	var cmds []command
	if reset {
		cmds = append(cmds, command{"RSET", c.t.Mail})
	}
	mailAt := len(cmds)
	cmds = append(cmds, command{mailCommand(cn, d.m, env), c.t.Mail})
	for _, i := range batch {
		cmds = append(cmds, command{rcptCommand(cn, d.m.Recipients[i], env.rcpts[i], env.utf8), c.t.Rcpt})
	}
	pipelined := cn.has("PIPELINING")
	var replies []*reply
	if pipelined {
		cmds = append(cmds, command{"DATA", c.t.Data})
		replies, err = cn.pipeline(cmds)
	} else {
		replies, err = lockstep(cn, cmds, mailAt)
	}

	// endEmpty handles a 354 to a pipelined DATA that no content can
	// follow, as no recipient was accepted: RFC 2920 section 3.1 has the
	// client send just the terminating dot, which the server then
	// refuses for want of recipients.
	endEmpty := func() {
		if !pipelined || len(replies) < len(cmds) || replies[len(cmds)-1].code != 354 {
			return
		}
		if err := cn.write(c.t.DataBlock, []byte(".\r\n")); err != nil {
			return
		}
		if r, err := cn.read(c.t.DataEnd); err == nil && r.positive() {
			log.Warn("server accepted a message without recipients", "reply", r.Error())
		}
	}

	if reset && len(replies) > 0 && !replies[0].positive() {
		endEmpty()
		return nil, hostFail(replyFailure(replies[0]).temporary(), cn)
	}
	if len(replies) <= mailAt {
		return nil, hostFail(connFailure(h, err), cn)
	}
	if mail := replies[mailAt]; !mail.positive() {
		endEmpty()
		log.Info("MAIL refused", "reply", mail.Error())
		f := replyFailure(mail)
		if !f.perm {
			// Perhaps only this server has trouble: try the next.
			return nil, hostFail(f, cn)
		}
		for _, i := range batch {
			d.settle(i, f, h.name, cn.tls)
		}
		return nil, nil
	}
	if len(replies) < mailAt+1+len(batch) {
		return nil, hostFail(connFailure(h, err), cn)
	}

	var accepted, tooMany []int
	for j, i := range batch {
		r := replies[mailAt+1+j]
		if r.positive() {
			accepted = append(accepted, i)
			continue
		}
		d.settle(i, replyFailure(r), h.name, cn.tls)
		if r.code == 452 && (r.enhanced == "" || r.enhanced == "4.5.3") {
			// "Too many recipients", not a full mailbox (4.2.2) or
			// disk (4.3.1), which a new transaction would not cure.
			tooMany = append(tooMany, i)
		}
	}
	if len(accepted) == 0 {
		endEmpty()
		return nil, nil
	}

	var data *reply
	if pipelined {
		if len(replies) < len(cmds) {
			return nil, hostFail(connFailure(h, err), cn)
		}
		data = replies[len(cmds)-1]
	} else if data, err = cn.cmd(c.t.Data, "DATA"); err != nil {
		return nil, hostFail(connFailure(h, err), cn)
	}
	settle := func(f *failure) {
		for _, i := range accepted {
			d.settle(i, f, h.name, cn.tls)
		}
	}
	if data.code != 354 {
		f := replyFailure(data)
		if data.positive() {
			// Not a state we can continue from.
			cn.broken = true
			f = localFailure(false, "4.5.0", "%s answered DATA with %q", h.name, data.Error())
		}
		settle(f)
		return nil, nil
	}

	readErr, writeErr := cn.sendData(body)
	if readErr != nil {
		// The connection is dropped without the final dot, so the
		// server discards what it got.
		settle(localFailure(false, "4.3.0", "reading the message: %v", readErr))
		return nil, nil
	}
	if writeErr != nil {
		return nil, hostFail(connFailure(h, writeErr), cn)
	}
	final, err := cn.read(c.t.DataEnd)
	if err != nil {
		// The server may have the message: trying another one now
		// would risk a duplicate, so leave it to the queue's retry.
		settle(localFailure(false, "4.4.2", "no reply from %s [%s] to the end of the message (it may have been delivered): %v", h.name, h.addr.Addr(), err))
		return nil, nil
	}
	if !final.positive() {
		log.Info("message refused", "reply", final.Error())
		settle(replyFailure(final))
		return nil, nil
	}
	log.Info("message accepted", "rcpts", len(accepted), "reply", final.text, "tls", cn.tls)
	for _, i := range accepted {
		d.delivered(i, final, h.name, cn.tls, cn.has("DSN"))
	}
	return tooMany, nil
}

// lockstep sends cmds one at a time, for servers without PIPELINING. It
// stops after a refused RSET or MAIL, as the rest would be out of sequence.
func lockstep(cn *conn, cmds []command, mailAt int) ([]*reply, error) {
	var replies []*reply
	for j, cmd := range cmds {
		r, err := cn.cmd(cmd.timeout, cmd.line)
		if err != nil {
			return replies, err
		}
		replies = append(replies, r)
		if j <= mailAt && !r.positive() {
			break
		}
	}
	return replies, nil
}
