"""``ov-vlm chat``: talk to a model about images and videos; tokens stream as they are generated.

Interactive multi-turn REPL (``/image PATH``, ``/video PATH``, ``/reset``, ``/help``, ``/exit``), or one shot with
``--prompt``. ``--show-template`` prints the exact prompt (chat template, with each visual's token count).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ov_vlm.cli.fields import argument_type
from ov_vlm.cli.loading import add_loading_arguments
from ov_vlm.codec.settings import parse_budget
from ov_vlm.errors import OVVLMError, one_line

HELP = """commands:
  /image PATH      attach an image to your next message
  /video PATH      attach a video to your next message (--codec / --frames / --dense choose how it is read)
  /reset           forget the conversation
  /help            this text
  /exit            quit (or Ctrl-D)"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="chat with a model about images and videos (streams tokens)")
    add_loading_arguments(parser)
    parser.add_argument("--image", action="append", default=[], type=Path, help="image for the first message")
    parser.add_argument("--video", type=Path, help="video for the first message")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--codec", dest="video_mode", action="store_const", const="codec", help="codec patches")
    mode.add_argument("--frames", dest="video_mode", action="store_const", const="frames", help="uniform frames")
    mode.add_argument("--dense", dest="video_mode", action="store_const", const="dense", help="all 64 frames")
    parser.add_argument("--budget", type=argument_type(parse_budget), help="codec budget: K, a ratio (0.125) or auto")
    parser.add_argument("--prompt", help="answer this one message and exit")
    parser.add_argument("--system", help="system message (default: the template's)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--show-template", action="store_true", help="print the exact prompt before each answer")
    parser.set_defaults(run=run, video_mode=None, user_errors=(FileNotFoundError, ValueError))


class ChatSession:
    """Conversation state: history, media waiting for the next message, cached visuals."""

    def __init__(self, loaded, system: str | None, video_mode: str | None, generation: dict[str, Any]):
        self.model, self.processor = loaded.model, loaded.processor
        self.system = system
        self.video_mode = video_mode
        self.generation = generation
        self.history: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self._visuals: dict[int, Any] = {}
        self.reset()

    def reset(self) -> None:
        self.history = [{"role": "system", "content": self.system}] if self.system else []
        self.pending = []
        self._visuals = {}

    def attach_image(self, path: Path) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        self.pending.append({"type": "image", "image": str(path)})

    def attach_video(self, path: Path) -> None:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such video")
        part = {"type": "video", "video": str(path)}
        if self.video_mode:
            part["mode"] = self.video_mode
        self.pending.append(part)

    def prompt_text(self) -> str:
        """The prompt as the model sees it, each visual pad annotated with its token count."""
        text = self.processor.render(self.history, add_generation_prompt=True)
        for visual in self._visuals_for_history():
            pad = "<|image_pad|>" if visual.kind == "image" else "<|video_pad|>"
            text = text.replace(pad, f"<|{pad[2:-2]} x{visual.num_tokens}|>", 1)
        return text

    def _visuals_for_history(self) -> list[Any]:
        visuals = []
        for message in self.history:
            if isinstance(message["content"], list):
                for part in message["content"]:
                    if part["type"] != "text":
                        if id(part) not in self._visuals:
                            self._visuals[id(part)] = self.processor.visual(part)
                        visuals.append(self._visuals[id(part)])
        return visuals

    def ask(self, text: str, show_template: bool = False, out=sys.stdout) -> str:
        from ov_vlm.model.inference import generate

        message = {"role": "user", "content": [*self.pending, {"type": "text", "text": text}]}
        self.history.append(message)
        self.pending = []
        try:
            visuals = self._visuals_for_history()
            encoded = self.processor.encode(self.history, add_generation_prompt=True, visuals=visuals)
        except Exception:
            self.history.pop()
            raise
        if show_template:
            print(f"--- prompt ({len(encoded.input_ids)} tokens) ---\n{self.prompt_text()}\n--- answer ---", file=out)
        streamer = make_streamer(self.processor.tokenizer, out)
        generate(self.model, self.processor, [encoded], self.generation, streamer=streamer)
        answer = streamer.text.strip()
        self.history.append({"role": "assistant", "content": answer})
        return answer


def make_streamer(tokenizer, out):
    """A `TextStreamer` that prints new text to ``out`` as it is generated and also keeps it (``.text``)."""
    from transformers import TextStreamer

    class CollectingStreamer(TextStreamer):
        def __init__(self):
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.text = ""

        def on_finalized_text(self, text: str, stream_end: bool = False):
            self.text += text
            print(text, end="" if not stream_end else "\n", flush=True, file=out)

    return CollectingStreamer()


def generation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_new_tokens": args.max_new_tokens}
    if args.temperature > 0:
        kwargs.update(do_sample=True, temperature=args.temperature, top_p=args.top_p)
    else:
        kwargs.update(do_sample=False)
    return kwargs


def run(args: argparse.Namespace) -> int:
    from ov_vlm.model.inference import load_for_inference

    loaded = load_for_inference(args.model, args.device, args.dtype, args.attn)
    loaded.processor = loaded.processor.with_overrides(budget=args.budget)
    if args.seed is not None:
        import torch

        torch.manual_seed(args.seed)
    session = ChatSession(loaded, args.system, args.video_mode, generation_kwargs(args))
    for image in args.image:
        session.attach_image(image)
    if args.video:
        session.attach_video(args.video)
    if args.prompt is not None:
        session.ask(args.prompt, show_template=args.show_template)
        return 0
    print(f"ov-vlm chat: {args.model} on {loaded.device} ({loaded.dtype}). /help for commands, /exit to quit.")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        command, _, argument = line.partition(" ")
        try:
            if command == "/exit":
                return 0
            if command == "/help":
                print(HELP)
            elif command == "/reset":
                session.reset()
                print("(conversation cleared)")
            elif command == "/image":
                session.attach_image(Path(argument.strip()))
                print(f"(image attached: {argument.strip()})")
            elif command == "/video":
                session.attach_video(Path(argument.strip()))
                print(f"(video attached: {argument.strip()})")
            elif command.startswith("/"):
                print(f"unknown command {command}; /help lists them")
            else:
                print("model> ", end="", flush=True)
                session.ask(line, show_template=args.show_template)
        except (OVVLMError, FileNotFoundError, ValueError) as error:
            print(f"error: {one_line(error)}")
