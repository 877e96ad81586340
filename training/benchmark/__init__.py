"""isovox.training.benchmark — scoring and pictures of separations (torch-free; museval, librosa and
matplotlib are imported only when used, from the [train] or [plot] extra): the held-out quality
benchmark (`quality`) and spectrogram / quality-bar figures (`plots`). Kept out of `isovox.host` so
the runtime imports none of them; `isovox bench --quality` and `isovox separate --plot` load them on use."""
