"""transformers' own common model tests (`ModelTesterMixin`, from the sdist of the installed transformers, vendored
under tests/vendor/) for `LiveChatModel` and `LiveChatForCommentGeneration`, with a model tester in transformers' form.

LiveChat reads three memories (video frames, transcript tokens, chat tokens) where the models these tests were
written for read one `input_ids`: each test that cannot apply says why in its skip reason, and the few whose counting
assumes one encoder stack are rewritten below for three (the same checks, per modality).
"""

import copy
import unittest
import warnings
from unittest import mock

import pytest
import torch
from livechat_testing import tiny_config

from hf_livechat import LiveChatForCommentGeneration, LiveChatModel
from hf_livechat.models.livechat.configuration_livechat import MODALITIES


with warnings.catch_warnings():
    # transformers registers the marks its tests use (flash_attn_test, torch_compile_test...) in its own conftest.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from vendor.transformers_tests import test_modeling_common as common
    from vendor.transformers_tests.test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor


# The small preset's choices (the training default): chat read token by token, the copy head.
SMALL_PRESET_CHOICES = dict(chat_encoder_type="token", copy_mechanism=True, activity_head=True, activity_pooling="attention+max", activity_dropout=0.3)
# The reference code's choices where they differ (LiveChatConfig.reference_code): one pooled vector per comment,
# post-norm layers, [CLS] pooling, the transcript as its summary slot, cross-attention chat -> transcript -> video.
REFERENCE_CODE_CHOICES = dict(
    chat_encoder_type="comment",
    layer_norm_position="post",
    comment_pooling="cls",
    transcript_memory="cls",
    cross_attention_order=["chat", "transcript", "video"],
)


class LiveChatModelTester:
    def __init__(
        self,
        parent,
        config_overrides=SMALL_PRESET_CHOICES,
        batch_size=3,
        num_frames=5,
        transcript_length=7,
        comments=3,
        comment_length=4,
        decoder_seq_length=6,
        is_training=True,
        vocab_size=99,
        hidden_size=32,
        num_attention_heads=4,
        encoder_layers=1,
        decoder_layers=2,
        video_feature_dim=12,
    ):
        self.parent = parent
        self.config_overrides = dict(config_overrides)
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.transcript_length = transcript_length
        self.comments = comments
        self.comment_length = comment_length
        self.is_training = is_training
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.video_feature_dim = video_feature_dim
        self.token_chat = self.config_overrides.get("chat_encoder_type", "comment") == "token"
        # What the common tests read. The decoder is the model's "num_hidden_layers" (config.attribute_map); the
        # encoder's layer outputs come from three stacks (video, transcript, chat: 3 x encoder_layers), which one
        # encoder layer makes as many as the decoder's embeddings + layers (expected_num_hidden_layers).
        self.num_hidden_layers = decoder_layers
        self.expected_num_hidden_layers = decoder_layers + 1
        assert 3 * encoder_layers == self.expected_num_hidden_layers
        # The first encoder layer output and attention are the video encoder's: the null slot and the frames.
        self.encoder_seq_length = num_frames + 1
        self.key_length = num_frames + 1
        self.decoder_seq_length = decoder_seq_length
        self.seq_length = decoder_seq_length
        # Sequence lengths of each encoder stack's self-attention, and of each memory the decoder reads.
        chat_tokens = comments * comment_length + 1 if self.token_chat else comment_length + 1
        self.encoder_lengths = {"video": num_frames + 1, "transcript": transcript_length + 1, "chat": chat_tokens}
        self.memory_lengths = {
            "video": num_frames + 1,
            "transcript": 1 if self.config_overrides.get("transcript_memory") == "cls" else transcript_length + 1,
            "chat": chat_tokens if self.token_chat else comments + 1,
        }

    def get_config(self):
        return tiny_config(
            vocab_size=self.vocab_size,
            d_model=self.hidden_size,
            encoder_layers=self.encoder_layers,
            decoder_layers=self.decoder_layers,
            encoder_attention_heads=self.num_attention_heads,
            decoder_attention_heads=self.num_attention_heads,
            video_feature_dim=self.video_feature_dim,
            max_comment_length=self.comment_length,
            **self.config_overrides,
        )

    def prepare_config_and_inputs(self):
        config = self.get_config()
        video_features = floats_tensor([self.batch_size, self.num_frames, self.video_feature_dim])
        video_mask = torch.ones(self.batch_size, self.num_frames, dtype=torch.long)
        video_mask[0, -2:] = 0
        transcript_input_ids = ids_tensor([self.batch_size, self.transcript_length], self.vocab_size - 4) + 4
        transcript_attention_mask = torch.ones_like(transcript_input_ids)
        transcript_attention_mask[0, -3:] = 0
        if self.token_chat:
            # Comments joined as the processor joins them in "token" mode: each one closed by [SEP].
            chat_input_ids = ids_tensor([self.batch_size, self.comments * self.comment_length], self.vocab_size - 4) + 4
            chat_input_ids[:, self.comment_length - 1 :: self.comment_length] = config.sep_token_id
            chat_attention_mask = torch.ones_like(chat_input_ids)
        else:
            chat_input_ids = ids_tensor([self.batch_size, self.comments, self.comment_length], self.vocab_size - 4) + 4
            chat_attention_mask = torch.ones_like(chat_input_ids)
            chat_attention_mask[0, -1, 2:] = 0
            chat_input_ids[0, -1, 2:] = config.pad_token_id
        decoder_input_ids = ids_tensor([self.batch_size, self.decoder_seq_length], self.vocab_size - 4) + 4
        decoder_input_ids[:, 0] = config.decoder_start_token_id
        decoder_attention_mask = torch.ones_like(decoder_input_ids)
        inputs_dict = {
            "video_features": video_features,
            "video_mask": video_mask,
            "transcript_input_ids": transcript_input_ids,
            "transcript_attention_mask": transcript_attention_mask,
            "chat_input_ids": chat_input_ids,
            "chat_attention_mask": chat_attention_mask,
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
        }
        return config, inputs_dict

    def prepare_config_and_inputs_for_common(self):
        return self.prepare_config_and_inputs()


class LiveChatModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (LiveChatModel, LiveChatForCommentGeneration)
    is_encoder_decoder = True
    # transformers runs this check on models whose files carry a copyright year of 2023 or later; LiveChat is new.
    test_can_init_all_missing_weights_before_2023 = True

    @classmethod
    def setUpClass(cls):
        # The common tests find a model's base class and its seq2seq LM head by name in transformers' own tables,
        # which list the library's models only (LiveChat registers with the Auto classes at runtime, where
        # `AutoModel` answers with the generation head). For this class the tables also hold LiveChat, so the tests
        # treat it as they treat BART: `LiveChatModel` is the base model (no loss to train on; its forward with
        # default config values), `LiveChatForCommentGeneration` the seq2seq LM head (labels, the no-double-shift
        # loss check).
        cls._name_tables = [
            mock.patch.dict(common.MODEL_MAPPING_NAMES, {"livechat": "LiveChatModel"}),
            mock.patch.dict(common.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES, {"livechat": "LiveChatForCommentGeneration"}),
        ]
        for table in cls._name_tables:
            table.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for table in reversed(cls._name_tables):
            table.stop()

    config_overrides = SMALL_PRESET_CHOICES

    def setUp(self):
        self.model_tester = LiveChatModelTester(self, config_overrides=self.config_overrides)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        # Like BERT's pretraining head and `next_sentence_label`: the activity head trains on its own label, the
        # response window's comment count, beside the comment's tokens.
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels and model_class is LiveChatForCommentGeneration and self.model_tester.get_config().activity_head:
            inputs_dict["activity_labels"] = torch.arange(self.model_tester.batch_size, dtype=torch.float) + 1
        return inputs_dict

    def test_model_forward_default_config_values(self):
        if self.model_tester.token_chat:
            self.skipTest(
                reason="sets sep_token_id to 0, the pad id, while token-mode chat is split into comments at each "
                "[SEP] (sep_token_id) and LiveChat refuses a comment longer than max_comment_length; it runs in "
                "LiveChatReferenceCodeModelTest, whose chat comes as one row per comment"
            )
        super().test_model_forward_default_config_values()

    @unittest.skip(
        reason="GenerationTesterMixin (tests/generation/test_utils.py) is not in the transformers 5.23.0 sdist, so no "
        "generate tests can be inherited; LiveChat's generate (greedy, beams, sampling, cache, dict outputs, guidance) "
        "is tested in test_modeling_livechat.py, test_outputs_livechat.py and test_guidance_livechat.py"
    )
    def test_generation_tester_mixin_inheritance(self):
        pass

    def test_attention_outputs(self):
        """transformers' version counts one encoder stack and one cross-attention per decoder layer, and a
        Seq2Seq output without `encoder_outputs`. LiveChat has three encoder stacks (video, transcript, chat) and one
        cross-attention per modality in each decoder layer: the same checks, per modality."""
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        tester = self.model_tester
        heads, decoder_length = tester.num_attention_heads, tester.decoder_seq_length
        encoder_lengths, memory_lengths = tester.encoder_lengths, tester.memory_lengths
        for model_class in self.all_model_classes:
            for through_config in (False, True):
                model_config = copy.deepcopy(config)
                inputs = self._prepare_for_class(inputs_dict, model_class)
                if through_config:
                    model_config.output_attentions = True
                else:
                    inputs["output_attentions"] = True
                model = model_class._from_config(model_config, attn_implementation="eager").eval()
                with torch.no_grad():
                    outputs = model(**inputs)
                expected = [
                    (heads, encoder_lengths[m], encoder_lengths[m]) for m in MODALITIES for _ in range(config.encoder_layers)
                ]
                self.assertEqual([tuple(a.shape[1:]) for a in outputs.encoder_attentions], expected)
                self.assertIs(outputs.encoder_attentions, outputs.encoder_outputs.attentions)
                self.assertEqual(
                    [tuple(a.shape[1:]) for a in outputs.decoder_attentions],
                    [(heads, decoder_length, decoder_length)] * tester.num_hidden_layers,
                )
                expected = [(heads, decoder_length, memory_lengths[m]) for m in config.cross_attention_order]
                self.assertEqual([tuple(a.shape[1:]) for a in outputs.cross_attentions], expected * tester.num_hidden_layers)
                # Hidden states add two entries (encoder's and decoder's), the attentions stay.
                with torch.no_grad():
                    with_hidden = model(**inputs, output_hidden_states=True)
                self.assertEqual(len(with_hidden), len(outputs) + 2)
                self.assertEqual(len(with_hidden.encoder_attentions), 3 * config.encoder_layers)

    def _check_resize(self, tied: bool):
        """transformers' resize tests drive the resized model with `input_ids`; LiveChat's token inputs are the
        transcript's, the chat's and the decoder's. The same checks with those: the shared embeddings (and the
        tied or untied LM head) grow and shrink, the new rows start near the old mean, the kept rows do not change,
        and the model runs on the largest new id."""
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        config.tie_word_embeddings = tied
        token_inputs = ("transcript_input_ids", "chat_input_ids", "decoder_input_ids")
        for model_class in self.all_model_classes:
            with self.subTest(model_class.__name__):
                torch.manual_seed(0)
                model = model_class(copy.deepcopy(config))
                vocab = model.config.vocab_size
                before = model.get_input_embeddings().weight.detach().clone()
                embeddings = model.resize_token_embeddings(vocab + 10)
                self.assertEqual(model.config.get_text_config().vocab_size, vocab + 10)
                self.assertEqual(embeddings.weight.shape[0], vocab + 10)
                torch.testing.assert_close(embeddings.weight[:-10].mean(0), embeddings.weight[-10:].mean(0), rtol=1e-3, atol=1e-3)
                base = model.model if model_class is LiveChatForCommentGeneration else model
                self.assertIs(base.encoder.embed_tokens, embeddings)
                self.assertIs(base.decoder.embed_tokens, embeddings)
                if config.text_encoder is not None:
                    # The pretrained text encoders embed transcript and chat tokens with their own tables.
                    self.assertEqual(model.config.text_encoder.vocab_size, vocab + 10)
                    for text_encoder in (base.encoder.transcript_encoder, base.encoder.chat_encoder):
                        self.assertEqual(text_encoder.model.get_input_embeddings().num_embeddings, vocab + 10)
                output = model.get_output_embeddings()
                if output is not None:
                    self.assertEqual(output.weight.shape[0], vocab + 10)
                    self.assertEqual(output.weight.data_ptr() == embeddings.weight.data_ptr(), tied)
                inputs = self._prepare_for_class(inputs_dict, model_class)
                for name in token_inputs:
                    inputs[name] = inputs[name].clone()
                    inputs[name][..., -2] = vocab + 9
                with torch.no_grad():
                    out = model(**inputs)
                if output is not None:
                    self.assertEqual(out.logits.shape[-1], vocab + 10)

                embeddings = model.resize_token_embeddings(vocab - 15)
                self.assertEqual(model.config.get_text_config().vocab_size, vocab - 15)
                self.assertEqual(embeddings.weight.shape[0], vocab - 15)
                torch.testing.assert_close(embeddings.weight, before[: vocab - 15])
                for name in token_inputs:
                    inputs[name] = inputs[name].clamp(max=vocab - 16)
                with torch.no_grad():
                    out = model(**inputs)
                if output is not None:
                    self.assertEqual(out.logits.shape[-1], vocab - 15)
                    self.assertEqual(model.get_output_embeddings().weight.shape[0], vocab - 15)

    def test_resize_tokens_embeddings(self):
        self._check_resize(tied=True)

    def test_resize_embeddings_untied(self):
        self._check_resize(tied=False)


class LiveChatReferenceCodeModelTest(LiveChatModelTest):
    """The same common tests with the reference code's choices (comment-mode chat, post-norm, [CLS] pooling,
    the transcript's summary slot as its memory, another cross-attention order) and no copy head."""

    config_overrides = REFERENCE_CODE_CHOICES


# A BERT text encoder in place of LiveChat's own transcript and chat encoders (`LiveChatConfig.with_text_encoder`),
# at test size: the config becomes composite (`text_encoder` is a sub-config).
TEXT_ENCODER_CHOICES = dict(
    SMALL_PRESET_CHOICES,
    text_encoder=dict(
        model_type="bert", vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    ),
)


class LiveChatTextEncoderModelTest(LiveChatModelTest):
    """The same common tests with a BERT sub-config as the transcript and chat encoders."""

    config_overrides = TEXT_ENCODER_CHOICES
    _is_composite = True

    TEXT_ENCODER_LAYERS = (
        "with a pretrained text encoder, encoder_hidden_states / encoder_attentions hold the video encoder's layers "
        "only: the BERT submodel records its layers in its own outputs (transformers' capture_outputs gives a "
        "submodel's layers to that submodel), which LiveChat does not pass on; the counts and shapes of LiveChat's own "
        "encoder layers are checked in LiveChatModelTest and LiveChatReferenceCodeModelTest"
    )

    @unittest.skip(reason=TEXT_ENCODER_LAYERS)
    def test_attention_outputs(self):
        pass

    @unittest.skip(reason=TEXT_ENCODER_LAYERS)
    def test_hidden_states_output(self):
        pass

    @unittest.skip(reason=TEXT_ENCODER_LAYERS)
    def test_retain_grad_hidden_states_attentions(self):
        pass
