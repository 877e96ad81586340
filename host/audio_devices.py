"""Audio devices for `isovox live` and `isovox devices`: the list, finding one by index or name, and
the sample rate both ends of a duplex stream accept."""
from __future__ import annotations

from isovox.core.errors import DeviceError


def sounddevice_module():
    """The `sounddevice` module, imported on first use (it loads PortAudio, which file jobs never need)."""
    import sounddevice as sd

    return sd


def list_audio_devices() -> list[dict]:
    """sounddevice's device list (dicts with name, hostapi name, channels, default rate)."""
    sd = sounddevice_module()
    apis = sd.query_hostapis()
    devices = []
    for index, device in enumerate(sd.query_devices()):
        devices.append({**dict(device), "index": index, "hostapi_name": apis[device["hostapi"]]["name"]})
    return devices


def _devices_text(kind: str) -> str:
    key = f"max_{kind}_channels"
    listed = [f"{d['index']} {d['name']!r} ({d['hostapi_name']}, {d[key]} {kind} ch)"
              for d in list_audio_devices() if d[key] > 0]
    return "; ".join(listed) if listed else "none (no audio server? start JACK: `jackd -d dummy -r 44100 &`)"


def resolve_device(spec: int | str | None, kind: str, channels: int) -> int:
    """Device index for `spec` (index, exact name, or case-insensitive substring); DeviceError listing
    the devices when none matches or it has fewer than `channels` `kind` ('input'/'output') channels."""
    sd = sounddevice_module()
    devices = list_audio_devices()
    key = f"max_{kind}_channels"
    if spec is None:
        index = sd.default.device[0 if kind == "input" else 1]
        if index is None or index < 0:
            raise DeviceError(f"no default {kind} device; available: {_devices_text(kind)}")
    elif isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if not 0 <= index < len(devices):
            raise DeviceError(f"{kind} device index {index} does not exist; available: {_devices_text(kind)}")
    else:
        matches = [d["index"] for d in devices if d[key] > 0 and d["name"] == spec]
        matches = matches or [d["index"] for d in devices if d[key] > 0 and str(spec).lower() in d["name"].lower()]
        if not matches:
            raise DeviceError(f"no {kind} device named {spec!r}; available: {_devices_text(kind)}")
        index = matches[0]
    device = devices[index]
    if device[key] < channels:
        raise DeviceError(f"{kind} device {index} {device['name']!r} has {device[key]} {kind} channels, "
                          f"{channels} asked for; pass --channels {max(device[key], 1)} or another device")
    return index


def choose_sample_rate(input_index: int, output_index: int, channels: int, wanted: int) -> tuple[int, str | None]:
    """`wanted` when both devices accept it, else the output device's default rate and a notice."""
    sd = sounddevice_module()
    try:
        sd.check_input_settings(input_index, channels=channels, dtype="float32", samplerate=wanted)
        sd.check_output_settings(output_index, channels=channels, dtype="float32", samplerate=wanted)
        return wanted, None
    except sd.PortAudioError as exc:
        fallback = int(sd.query_devices(output_index)["default_samplerate"])
        try:
            sd.check_input_settings(input_index, channels=channels, dtype="float32", samplerate=fallback)
            sd.check_output_settings(output_index, channels=channels, dtype="float32", samplerate=fallback)
        except sd.PortAudioError as exc2:
            raise DeviceError(f"the devices accept neither {wanted} Hz ({exc}) nor {fallback} Hz ({exc2}); "
                              "choose other devices or restart the audio server at 44100 Hz") from exc2
        return fallback, (f"the device cannot run at the model's {wanted} Hz ({exc}); running at {fallback} Hz "
                          f"and resampling in and out (a little more latency; for none, restart JACK with "
                          f"-r {wanted})")
