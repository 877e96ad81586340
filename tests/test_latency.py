"""`core.latency`: the one latency formula, against the numbers the design states and the separators."""
from __future__ import annotations

from isovox.core.latency import engine_delay_samples, latency_samples, stream_timing
from isovox.core.stft import StftConfig
from isovox.host.streaming import StreamingSeparator

CFG = StftConfig()


def test_the_formula_at_the_model_rate():
    assert latency_samples(CFG, 0) == 1023                                # 23.2 ms at 44.1 kHz
    assert latency_samples(CFG, 2) == 1023 + 2 * 512                      # model look-ahead
    assert latency_samples(CFG, 1, phase_delay_frames=3) == 1023 + 4 * 512  # + Griffin-Lim's window
    assert latency_samples(CFG, 1, stream_rate=44100) == latency_samples(CFG, 1)
    # the engine's whole-hop delay is the latency less the hop - 1 samples the hop FIFO waits
    assert engine_delay_samples(CFG, 1) == latency_samples(CFG, 1) - (CFG.hop_samples - 1)


def test_resampling_adds_the_filters_hold_back_in_whole_stream_samples():
    timing = stream_timing(CFG, 0, stream_rate=48000, channels=2)
    assert timing.latency_samples > 1023 * 48000 // 44100
    assert (timing.engine_delay_samples + timing.lead_zeros) * 48000 % 44100 == 0


def test_the_separators_report_it(tiny_lookahead_model_path):
    for phase, delay_frames in (("mixture", 0), ("griffinlim", 3)):
        stream = StreamingSeparator(tiny_lookahead_model_path, "cpu", phase=phase, channels=1)
        lookahead = stream.model_metadata.lookahead_frames
        assert stream.latency_samples == latency_samples(CFG, lookahead, delay_frames)
    resampled = StreamingSeparator(tiny_lookahead_model_path, "cpu", sample_rate=48000, channels=1,
                                   resample=True)
    assert resampled.latency_samples == latency_samples(CFG, lookahead, 0, 48000, 1)
