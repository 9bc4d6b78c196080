"""Tiny random-weight pipelines built from configs (one- or two-block UNets, 2-layer CLIP encoders, a
byte-level tokenizer with no merges), saved like real checkpoints: the tests and the GPU smoke
benchmark load them through the same code as real weights. Their output is noise, by design."""

from __future__ import annotations

from pathlib import Path

from .runtime import import_diffusers

TINY_KINDS = ("sdxl", "sd", "controlnet_depth", "svd", "inpaint")


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (printable Latin-1 first)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    rest = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + i) for i in range(len(rest))]


def tiny_tokenizer(max_length: int = 16):
    """A CLIP tokenizer whose vocabulary is single bytes (and bytes ending a word), no merges."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in _byte_chars():
            vocab[c + suffix] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def _text_encoder(cls, vocab_size: int, width: int = 32):
    from transformers import CLIPTextConfig

    cfg = CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=width, intermediate_size=37,
                         num_attention_heads=4, num_hidden_layers=2, vocab_size=vocab_size,
                         max_position_embeddings=16, projection_dim=width)
    return cls(cfg)


def _vae(diffusers):
    return diffusers.AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                                   down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                                   norm_num_groups=8, sample_size=32)


def _unet(diffusers, in_channels: int = 4, cross_dim: int = 32, **extra):
    return diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=in_channels, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_dim, norm_num_groups=8, attention_head_dim=4, **extra)


def _scheduler(diffusers):
    return diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                   clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def _sd_parts(diffusers, in_channels: int = 4) -> dict:
    from transformers import CLIPTextModel

    tok = tiny_tokenizer()
    return {"vae": _vae(diffusers), "text_encoder": _text_encoder(CLIPTextModel, len(tok)), "tokenizer": tok,
            "unet": _unet(diffusers, in_channels), "scheduler": _scheduler(diffusers), "safety_checker": None,
            "feature_extractor": None, "requires_safety_checker": False}


def _sdxl(diffusers):
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tok = tiny_tokenizer()
    unet = _unet(diffusers, 4, 64, use_linear_projection=True, addition_embed_type="text_time",
                 addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
                 projection_class_embeddings_input_dim=6 * 8 + 32)
    scheduler = diffusers.EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                 steps_offset=1, timestep_spacing="leading")
    return diffusers.StableDiffusionXLPipeline(
        vae=_vae(diffusers), text_encoder=_text_encoder(CLIPTextModel, len(tok)),
        text_encoder_2=_text_encoder(CLIPTextModelWithProjection, len(tok)), tokenizer=tok, tokenizer_2=tok,
        unet=unet, scheduler=scheduler)


def _svd(diffusers, frames: int = 4):
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = diffusers.UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=32,
        num_attention_heads=(2, 4), projection_class_embeddings_input_dim=3 * 8, addition_time_embed_dim=8,
        num_frames=frames)
    vae = diffusers.AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                                 down_block_types=["DownEncoderBlock2D"] * 2, latent_channels=4)
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, interpolation_type="linear",
        prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
        timestep_type="continuous", use_karras_sigmas=True)
    # SVD resizes the image to 224 px for its CLIP encoder; 32 px patches keep that to 7 x 7 tokens
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2,
                                                             num_attention_heads=4, image_size=224,
                                                             intermediate_size=37, patch_size=32))
    return diffusers.StableVideoDiffusionPipeline(vae=vae, image_encoder=encoder, unet=unet, scheduler=scheduler,
                                                  feature_extractor=CLIPImageProcessor(crop_size=32, size=32))


def build_tiny(kind: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Build the tiny `kind` (one of TINY_KINDS) with weights from `seed` and save it to `out_dir`."""
    torch, diffusers = import_diffusers()
    if kind not in TINY_KINDS:
        raise ValueError(f"unknown tiny pipeline '{kind}'; one of {', '.join(TINY_KINDS)}")
    with torch.random.fork_rng(devices=[]):  # weights come from torch's global generator: seed it, then restore it
        torch.manual_seed(seed)
        model = _build(diffusers, kind)
    out = Path(out_dir)
    model.save_pretrained(str(out))
    return out


def _build(diffusers, kind: str):
    if kind == "sdxl":
        model = _sdxl(diffusers)
    elif kind == "sd":
        model = diffusers.StableDiffusionPipeline(**_sd_parts(diffusers))
    elif kind == "inpaint":
        model = diffusers.StableDiffusionInpaintPipeline(**_sd_parts(diffusers, in_channels=9))
    elif kind == "controlnet_depth":
        model = diffusers.ControlNetModel(block_out_channels=(32, 64), layers_per_block=1, in_channels=4,
                                          down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                          cross_attention_dim=32, conditioning_embedding_out_channels=(16, 32),
                                          norm_num_groups=8, attention_head_dim=4)
    else:
        model = _svd(diffusers)
    return model
