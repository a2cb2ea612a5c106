"""The course's seeded procedural scene generator: industrial parts photographed on backgrounds.

>>> from coursekit.scenes import SceneGenerator, PARTS
>>> scene = SceneGenerator(size=(96, 128), objects_per_scene=(2, 4), seed=1).render(0)
>>> scene.image.shape, scene.boxes.shape[1], len(PARTS)
((96, 128, 3), 4, 10)
"""
from .backgrounds import BACKGROUNDS, render_background
from .defects import DEFECT_KINDS, Defect, defect_hook
from .domains import DOMAINS, Domain, get_domain
from .generator import DefectHook, Scene, SceneGenerator, SceneObject, make_object_dataset
from .parts import DISTRACTORS, PARTS, Material, PartSpec, Prim, build_part, sample_material
from .render import Light, PartCanvas

__all__ = ["PARTS", "DISTRACTORS", "DOMAINS", "BACKGROUNDS", "Domain", "get_domain", "Scene", "SceneObject",
           "SceneGenerator", "DefectHook", "PartCanvas", "PartSpec", "Prim", "Material", "Light",
           "build_part", "sample_material", "render_background", "make_object_dataset",
           "DEFECT_KINDS", "Defect", "defect_hook"]
