"""Audio channels ↔ model items: mono models take one channel per item, stereo models a pair."""
from __future__ import annotations

import numpy as np
import pytest
from isovox.core.channel_groups import channel_slots, group_channels, pad_to_groups, ungroup_channels


@pytest.mark.parametrize("channels, model_channels, slots", [(1, 1, 1), (6, 1, 6), (1, 2, 2), (2, 2, 2),
                                                             (3, 2, 4), (6, 2, 6)])
def test_channels_round_up_to_whole_groups(channels, model_channels, slots):
    assert channel_slots(channels, model_channels) == slots


def test_pairs_keep_their_order_and_a_lone_channel_is_doubled():
    values = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)   # (channels, bins, frames)
    grouped = group_channels(values, 2)
    assert grouped.shape == (2, 2, 4, 5)
    np.testing.assert_array_equal(grouped[0], values[:2])
    np.testing.assert_array_equal(grouped[1], values[[2, 2]])
    np.testing.assert_array_equal(ungroup_channels(grouped, 3), values)
    assert np.shares_memory(pad_to_groups(values[:2], 2), values)   # whole groups already: no copy
    out = np.zeros((4, 4, 5), np.float32)
    assert pad_to_groups(values, 2, out=out) is out and np.array_equal(out[3], values[2])


def test_a_mono_model_takes_each_channel_as_one_item():
    values = np.ones((5, 4, 2), np.float32)
    assert group_channels(values, 1).shape == (5, 1, 4, 2)
    assert ungroup_channels(group_channels(values, 1), 5).shape == (5, 4, 2)
