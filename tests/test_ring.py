"""The one audio ring buffer: both forms of its calls, wrap-around, delay priming, two threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from isovox.core.errors import BufferOverflowError
from isovox.host.ring import AudioRing


def test_offer_and_take_refuse_what_does_not_fit_or_is_not_there():
    ring = AudioRing(2, 8)
    assert ring.offer(np.ones((2, 6), np.float32)) and not ring.offer(np.ones((2, 3), np.float32))
    out = np.zeros((2, 4), np.float32)
    assert ring.take_into(out) and ring.count == 2
    assert ring.offer(np.arange(12, dtype=np.float32).reshape(2, 6))      # wraps around
    wide = np.zeros((2, 8), np.float32)
    assert ring.take_into(wide) and wide[0, 2:].tolist() == [0, 1, 2, 3, 4, 5]
    assert not ring.take_into(out) and ring.count == 0


def test_write_and_read_raise_with_the_sizes():
    ring = AudioRing(1, 4)
    ring.write(np.ones((1, 4), np.float32))
    with pytest.raises(BufferOverflowError, match="overflow: 5 samples > capacity 4"):
        ring.write(np.ones((1, 1), np.float32))
    ring.read_into(np.zeros((1, 4), np.float32))
    with pytest.raises(BufferOverflowError, match="underrun: 1 samples asked, 0 held"):
        ring.read_into(np.zeros((1, 1), np.float32))


def test_clear_primes_a_delay_of_silence_and_discard_drops_the_oldest():
    ring = AudioRing(1, 8)
    ring.write(np.full((1, 8), 7.0, np.float32))
    ring.clear(3)
    ring.write(np.array([[1.0, 2.0]], np.float32))
    out = np.zeros((1, 5), np.float32)
    ring.read_into(out)
    assert out.tolist() == [[0, 0, 0, 1, 2]]
    ring.write(np.arange(6, dtype=np.float32)[None])
    assert ring.discard(4) == 4 and ring.discard(9) == 2 and ring.count == 0
    with pytest.raises(BufferOverflowError, match="do not fit"):
        ring.clear(9)


def test_one_producer_and_one_consumer_thread_share_it_without_a_lock():
    """Every sample arrives once, in order, though both threads run at once on odd block sizes."""
    total, ring = 200_000, AudioRing(1, 1000)
    received = np.zeros(total, np.float32)
    source = np.arange(total, dtype=np.float32)[None]

    def consume() -> None:
        done, out = 0, np.zeros((1, 37), np.float32)
        while done < total:
            n = min(37, total - done)
            if ring.take_into(out[:, :n]):
                received[done:done + n] = out[0, :n]
                done += n

    thread = threading.Thread(target=consume)
    thread.start()
    sent = 0
    while sent < total:
        n = min(53, total - sent)
        if ring.offer(source[:, sent:sent + n]):
            sent += n
    thread.join(30)
    assert not thread.is_alive()
    np.testing.assert_array_equal(received, source[0])
