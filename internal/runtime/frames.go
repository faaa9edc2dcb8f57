package runtime

import (
	"encoding/binary"
	"fmt"
)

// frameHandler receives decoded frames from a frameParser.
type frameHandler interface {
	onReady() error
	onLoaded(body []byte) error
	// onOutput gets the bytes of an Output frame in pieces of at most
	// readBufferSize bytes; b is valid only during the call.
	onOutput(seq uint32, b []byte)
	// onDone gets a Done frame; body is the handler's to keep.
	onDone(seq uint32, status byte, body []byte) error
}

// frameParser decodes the frames an instance writes from bytes read in
// pieces of any size, so that whoever reads the pipe can stop between any
// two reads (a deadline, a cancelled call) and the next reader carries on
// where it left off. Output is passed on as it arrives; the bodies of
// Loaded and Done frames are collected whole.
//
// The reader asks for space, reads into it, and calls filled and then
// parse:
//
//	n, err := read(p.space())
//	p.filled(n)
//	err = p.parse(h)
type frameParser struct {
	buf  []byte // buf[r:w] is read and not yet decoded
	r, w int

	// The frame being decoded, once its header and fixed part are in.
	inFrame bool
	kind    byte
	seq     uint32
	status  byte
	rest    int    // body bytes still to come
	body    []byte // a Loaded or Done body being collected
	direct  bool   // the last space was the body's, not the buffer's
}

func newFrameParser() *frameParser {
	return &frameParser{buf: make([]byte, readBufferSize)}
}

// fixedLen is the size of kind's fixed part, which follows the header.
func fixedLen(kind byte) int {
	switch kind {
	case FrameOutput:
		return outputFixedLen
	case FrameDone:
		return doneFixedLen
	}
	return 0
}

// space returns where the next read should go: straight into a large body
// being collected when nothing is buffered, else the buffer's free end.
func (p *frameParser) space() []byte {
	p.direct = p.inFrame && p.body != nil && p.r == p.w
	if p.direct {
		p.growBody(1)
		return p.body[len(p.body):min(cap(p.body), len(p.body)+p.rest)]
	}
	if p.r == p.w {
		p.r, p.w = 0, 0
	} else if p.w == len(p.buf) {
		p.w = copy(p.buf, p.buf[p.r:p.w])
		p.r = 0
	}
	return p.buf[p.w:]
}

// filled records that n bytes were read into the last space.
func (p *frameParser) filled(n int) {
	if p.direct {
		p.body = p.body[:len(p.body)+n]
		p.rest -= n
		return
	}
	p.w += n
}

// growBody makes room for at least k more body bytes. It grows the body
// as bytes arrive, so that a lying length does not allocate up front.
func (p *frameParser) growBody(k int) {
	if cap(p.body)-len(p.body) >= k {
		return
	}
	next := make([]byte, len(p.body), len(p.body)+max(k, min(max(cap(p.body), 64<<10), p.rest)))
	copy(next, p.body)
	p.body = next
}

// parse decodes what is buffered, calling h for each frame (and each
// piece of output), and stops when it needs more bytes. A frame that
// breaks the protocol, or an error from h, is returned; the parser is
// then unusable.
func (p *frameParser) parse(h frameHandler) error {
	for {
		if !p.inFrame {
			avail := p.buf[p.r:p.w]
			if len(avail) < frameHeaderLen {
				return nil
			}
			n := int(binary.BigEndian.Uint32(avail))
			kind := avail[4]
			if n > MaxFrame {
				return fmt.Errorf("%w: frame of %d bytes (kind %q) is over the maximum %d", ErrBroken, n, kind, MaxFrame)
			}
			switch kind {
			case FrameReady, FrameLoaded, FrameOutput, FrameDone:
			default:
				return fmt.Errorf("%w: unknown frame kind %#x", ErrBroken, kind)
			}
			fixed := fixedLen(kind)
			if n < fixed {
				return fmt.Errorf("%w: short %s frame (%d bytes)", ErrBroken, frameName(kind), n)
			}
			if len(avail) < frameHeaderLen+fixed {
				return nil
			}
			p.kind, p.rest, p.body = kind, n-fixed, nil
			switch kind {
			case FrameOutput:
				p.seq = binary.BigEndian.Uint32(avail[frameHeaderLen:])
			case FrameDone:
				p.seq = binary.BigEndian.Uint32(avail[frameHeaderLen:])
				p.status = avail[frameHeaderLen+4]
				if p.status > 1 {
					return fmt.Errorf("%w: done frame with status %d", ErrBroken, p.status)
				}
			}
			p.r += frameHeaderLen + fixed
			p.inFrame = true
			if (kind == FrameLoaded || kind == FrameDone) && p.rest > 0 {
				p.body = make([]byte, 0, min(p.rest, 64<<10))
			}
		}

		// Take what is buffered of the frame's body.
		k := min(p.rest, p.w-p.r)
		switch p.kind {
		case FrameOutput:
			if k > 0 {
				h.onOutput(p.seq, p.buf[p.r:p.r+k])
			}
		case FrameLoaded, FrameDone:
			if k > 0 {
				p.growBody(k)
				p.body = append(p.body, p.buf[p.r:p.r+k]...)
			}
		}
		p.r += k
		p.rest -= k
		if p.rest > 0 {
			return nil
		}

		// The frame is whole.
		p.inFrame = false
		body := p.body
		p.body = nil
		var err error
		switch p.kind {
		case FrameReady:
			err = h.onReady()
		case FrameLoaded:
			err = h.onLoaded(body)
		case FrameDone:
			err = h.onDone(p.seq, p.status, body)
		}
		if err != nil {
			return err
		}
	}
}

func frameName(kind byte) string {
	switch kind {
	case FrameOutput:
		return "output"
	case FrameDone:
		return "done"
	}
	return string(kind)
}
