"""Tiny random-weight pipelines built from configs (one- or two-block UNets and video transformers,
2-layer CLIP and T5 encoders, byte- or character-level tokenizers built here, never downloaded),
saved like real checkpoints: the tests and the GPU smoke benchmark load them through the same code
as real weights. Their output is noise, by design."""

from __future__ import annotations

from pathlib import Path

from .runtime import import_diffusers

TINY_KINDS = ("sdxl", "sd", "controlnet_depth", "svd", "inpaint", "ltx", "wan", "cogvideox")
VIDEO_KINDS = ("svd", "ltx", "wan", "cogvideox")  # image-to-video pipelines


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


def tiny_t5_tokenizer(max_length: int = 16):
    """A T5 (Unigram) tokenizer whose pieces are the printable ASCII characters, alone and word-initial
    ("▁a"), with T5's pad, end and unknown tokens first (ids 0, 1, 2)."""
    from transformers import T5Tokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in chars] + [("▁" + c, -2.5) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def _t5_encoder(vocab_size: int, width: int = 32, umt5: bool = False):
    """A 2-layer T5 (or UMT5, Wan's) encoder of `width` channels."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    cfg_cls, cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    cfg = cfg_cls(vocab_size=vocab_size, d_model=width, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                  relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return cls(cfg)


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


def _ltx(diffusers):
    """LTX-Video image-to-video: a 1-layer transformer over a VAE that compresses 4x in space and time
    (the real one: 32x and 8x)."""
    tok = tiny_t5_tokenizer()
    transformer = diffusers.LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                                       num_attention_heads=4, attention_head_dim=8,
                                                       cross_attention_dim=32, num_layers=1, caption_channels=32)
    vae = diffusers.AutoencoderKLLTXVideo(
        latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False), decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4, upsample_factor=(1,) * 4,
        timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)
    return diffusers.LTXImageToVideoPipeline(scheduler=diffusers.FlowMatchEulerDiscreteScheduler(), vae=vae,
                                             text_encoder=_t5_encoder(len(tok)), tokenizer=tok,
                                             transformer=transformer)


def _wan(diffusers):
    """Wan 2.1 image-to-video: a 2-layer transformer, Wan's VAE at 3 base channels (8x space, 4x time, as
    the real one), a UMT5 text encoder and the CLIP vision encoder whose penultimate layer it attends to."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    tok = tiny_t5_tokenizer()
    vae = diffusers.AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                     temperal_downsample=[False, True, True])
    transformer = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16 + 16 + 4, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64, image_dim=8)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=8, projection_dim=8, num_hidden_layers=2,
                                                             num_attention_heads=2, image_size=32,
                                                             intermediate_size=16, patch_size=8))
    return diffusers.WanImageToVideoPipeline(
        tokenizer=tok, text_encoder=_t5_encoder(len(tok), umt5=True), vae=vae,
        scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=5.0), image_processor=CLIPImageProcessor(
            crop_size=32, size=32), image_encoder=encoder, transformer=transformer)


def _cogvideox(diffusers):
    """CogVideoX image-to-video (5b-I2V style: learned positional embeddings, so one working size, 32x32
    here, and rotary ones), a 1-layer transformer over a VAE of 8x space, 4x time."""
    tok = tiny_t5_tokenizer()
    transformer = diffusers.CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=4, sample_height=4, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True)
    blocks = 4
    vae = diffusers.AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * blocks, up_block_types=("CogVideoXUpBlock3D",) * blocks,
        block_out_channels=(8,) * blocks, latent_channels=4, layers_per_block=1, norm_num_groups=2,
        temporal_compression_ratio=4, sample_height=32, sample_width=32)
    scheduler = diffusers.CogVideoXDDIMScheduler(beta_schedule="scaled_linear", prediction_type="v_prediction",
                                                 rescale_betas_zero_snr=True, timestep_spacing="trailing",
                                                 clip_sample=False, set_alpha_to_one=True)
    return diffusers.CogVideoXImageToVideoPipeline(tokenizer=tok, text_encoder=_t5_encoder(len(tok)), vae=vae,
                                                   transformer=transformer, scheduler=scheduler)


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
    elif kind == "ltx":
        model = _ltx(diffusers)
    elif kind == "wan":
        model = _wan(diffusers)
    elif kind == "cogvideox":
        model = _cogvideox(diffusers)
    else:
        model = _svd(diffusers)
    return model
