"""Image tokenizers for Tessera: Hugging Face VQ models with both an encoder and a decoder
(`JanusVQVAE`, `Emu3VQVAE` in `transformers`), shared by scripts/tokenize_images.py,
scripts/decode_images.py and scripts/check_image_tokenizers.py.

An image becomes `grid × grid` codes in `0..<codes`, read row by row: exactly what a
segment `{"image": [...]}` of `launch prepare --from-jsonl` holds, with `data.image_tokens
= grid²` and `model.vocab_size = data.text_vocab + codes`. Pixels go in and come out in
[-1, 1] after the weights' own normalisation (`image_mean`/`image_std` of their
preprocessor_config.json, else 0.5/0.5).

Chameleon's VQ model (`ChameleonVQVAE`) is not here: `transformers` ships only its encoder,
so its codes could not be drawn again.
"""
import glob
import json
import os

import numpy as np
import torch
from PIL import Image

# Which transformers classes make each kind, and the model_type of a standalone VQ config
# and of the full model that holds one under `vqmodel.`.
KINDS = {
    "janus": {"vq": "JanusVQVAE", "config": "JanusVQVAEConfig", "vq_type": "janus_vqgan", "full_type": "janus"},
    "emu3": {"vq": "Emu3VQVAE", "config": "Emu3VQVAEConfig", "vq_type": "emu3_vqgan", "full_type": "emu3"},
}


def json_lines(path):
    """(line number, value) for each non-empty line of a JSONL file; a line that is not
    JSON stops the script with one line naming the file and the line."""
    import sys

    with open(path, encoding="utf-8") as file:
        for number, text in enumerate(file, 1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as error:
                sys.exit(f"{path}: line {number}: not JSON ({error.msg})")


class WeightsError(Exception):
    """Weights that do not hold a VQ model of the kind asked for."""


def _transformers_class(name):
    import transformers

    # Its loading bars would bury the scripts' own one-line messages.
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return getattr(transformers, name)


class VQImageTokenizer:
    """A frozen VQ model and the fixed square size Tessera's images have."""

    def __init__(self, kind, model, side, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)):
        self.kind, self.model, self.side = kind, model.eval(), side
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        factor = 2 ** (len(model.config.channel_multiplier) - 1)
        if side % factor:
            raise ValueError(f"--size {side} is not a multiple of the model's downsampling factor {factor}")
        self.grid = side // factor
        if kind == "janus" and self.grid != model.config.num_patches:
            # Janus's decoder reshapes codes to its configured num_patches².
            raise ValueError(
                f"--size {side}: this Janus model takes {model.config.num_patches * factor}-pixel images "
                f"({model.config.num_patches}² codes)"
            )
        self.codes = model.config.num_embeddings if kind == "janus" else model.config.codebook_size

    @property
    def tokens_per_image(self):
        return self.grid * self.grid

    @classmethod
    def load(cls, kind, weights, side=None):
        """The VQ model in `weights`: a folder (or hub id) of a standalone VQ model, or of the
        full Janus/Emu3 model whose tensors under `vqmodel.` are its VQ model."""
        spec = KINDS[kind]
        folder = weights if os.path.isdir(weights) else _download(weights)
        config_path = os.path.join(folder, "config.json")
        if not os.path.exists(config_path):
            raise WeightsError(f"{weights}: no config.json")
        with open(config_path) as file:
            config = json.load(file)
        model_type = config.get("model_type")
        vq_class = _transformers_class(spec["vq"])
        if model_type == spec["vq_type"]:
            model = vq_class.from_pretrained(folder)
        elif model_type == spec["full_type"]:
            vq_config = _transformers_class(spec["config"])(**config["vq_config"])
            model = vq_class(vq_config)
            state = _vq_tensors(folder)
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise WeightsError(
                    f"{weights}: its vqmodel tensors do not fit {spec['vq']} "
                    f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
        else:
            raise WeightsError(
                f"{weights}: config.json's model_type is {model_type!r}; --model {kind} takes "
                f"{spec['vq_type']!r} or {spec['full_type']!r}"
            )
        mean, std = _normalisation(folder)
        factor = 2 ** (len(model.config.channel_multiplier) - 1)
        default = model.config.num_patches * factor if kind == "janus" else 256
        return cls(kind, model, side or default, mean, std)

    # Pixels.

    def pixels(self, images):
        """PIL images → [n, 3, side, side] in the model's input range (resized, RGB)."""
        arrays = [
            np.asarray(image.convert("RGB").resize((self.side, self.side), Image.BICUBIC), dtype=np.float32) / 255
            for image in images
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        return (batch - self.mean) / self.std

    def images(self, pixels):
        """[n, 3, side, side] model outputs → PIL images."""
        values = (pixels * self.std + self.mean).clamp(0, 1)
        arrays = (values.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        return [Image.fromarray(array) for array in arrays]

    # Codes.

    @torch.no_grad()
    def encode(self, images):
        """PIL images → [n, grid²] codes, row by row."""
        pixels = self.pixels(images)
        if self.kind == "janus":
            codes = self.model.encode(pixels).image_tokens
        else:
            sizes = torch.tensor([[self.side, self.side]] * len(images))
            codes = torch.stack(self.model.encode(pixels, sizes).image_tokens)
        return codes.reshape(len(images), -1)

    @torch.no_grad()
    def decode(self, codes):
        """[n, grid²] codes → PIL images."""
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.ndim != 2 or codes.shape[1] != self.tokens_per_image:
            raise ValueError(f"expected [n, {self.tokens_per_image}] codes, got {list(codes.shape)}")
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codes):
            raise ValueError(f"codes must lie in 0..<{self.codes}")
        if self.kind == "janus":
            pixels = self.model.decode(codes)
        else:
            pixels = self.model.decode(codes.view(-1, self.grid, self.grid))
        return self.images(pixels)


def _download(weights):
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(weights, allow_patterns=["*.json", "*.safetensors"])
    except Exception as error:  # no network, unknown id: one line
        raise WeightsError(f"{weights}: not a folder, and it could not be fetched from the Hub ({error})") from None


def _vq_tensors(folder):
    from safetensors.torch import load_file

    state = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        for name, tensor in load_file(path).items():
            if "vqmodel." in name:
                state[name.split("vqmodel.", 1)[1]] = tensor
    if not state:
        raise WeightsError(f"{folder}: no tensor under vqmodel. in its *.safetensors files")
    return state


def _normalisation(folder):
    path = os.path.join(folder, "preprocessor_config.json")
    if not os.path.exists(path):
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    with open(path) as file:
        config = json.load(file)

    def three(value, default):
        value = config.get(value, default)
        return tuple(value) if isinstance(value, list) else (value,) * 3

    return three("image_mean", 0.5), three("image_std", 0.5)


def random_tokenizer(kind, seed=0):
    """A small randomly initialised VQ model of the real class (for tests: weights cannot
    be downloaded everywhere): 16-pixel images, 4 × 4 codes of 64."""
    torch.manual_seed(seed)
    if kind == "janus":
        config = _transformers_class(KINDS[kind]["config"])(
            base_channels=32, channel_multiplier=[1, 2, 2], num_res_blocks=1, latent_channels=32, embed_dim=8,
            num_embeddings=64, num_patches=4, projection_dim=32, image_token_embed_dim=32,
        )
    else:
        config = _transformers_class(KINDS[kind]["config"])(
            base_channels=32, channel_multiplier=[1, 2, 2], num_res_blocks=1, latent_channels=4, embed_dim=4,
            codebook_size=64, attn_resolutions=[], temporal_downsample_factor=4, hidden_size=64, num_attention_heads=1,
        )
    model = _transformers_class(KINDS[kind]["vq"])(config)
    return VQImageTokenizer(kind, model, side=16)
