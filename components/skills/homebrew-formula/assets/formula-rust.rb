# Template for a Rust CLI built from source. Replace MyTool/my-tool, OWNER/REPO, the version,
# the sha256 and the test, then run `brew audit --strict --new --online` on the result.
class MyTool < Formula
  desc "One-line description of what the tool does"
  homepage "https://github.com/OWNER/REPO"
  url "https://github.com/OWNER/REPO/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license any_of: ["MIT", "Apache-2.0"]
  head "https://github.com/OWNER/REPO.git", branch: "main"

  depends_on "rust" => :build

  def install
    # For a workspace, point at the binary crate: std_cargo_args(path: "crates/my-tool")
    system "cargo", "install", *std_cargo_args

    # Shell completions, if the tool can generate them (clap_complete):
    # generate_completions_from_executable(bin/"my-tool", "completions")

    # Man page, if the build produces one:
    # man1.install "target/man/my-tool.1"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/my-tool --version")

    # Exercise real behaviour without network access, for example:
    # (testpath/"input.txt").write("hello")
    # assert_match "hello", shell_output("#{bin}/my-tool show #{testpath}/input.txt")
  end
end
