"""Builds wiki.json, the offline encyclopedia behind the bundled ``wiki`` server.

To regenerate it, from the repository root, after editing the tables below::

    python scripts/build_wiki.py      # rewrites servers/wiki.json

then commit both files. The script is repository-only: the wheel ships wiki.json (as
``mcp_compiler/servers/wiki.json``) but not this generator.
The figures are rounded, approximate real-world values written for this project (good
enough for demos and benchmarks, not a reference). Summaries are assembled from a
per-kind sentence plus a hand-written note, so every entry reads as one paragraph.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parents[1] / "servers" / "wiki.json"


def words(n: float) -> str:
    """A human rendering of a big number: 1.41 billion, 67 million, 390,000."""
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if abs(n) >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,.0f}" if n == int(n) else f"{n:,}"


# Proper adjectives keep their capital when an animal's name is used mid-sentence.
PROPER_WORDS = {"African", "Asian", "Galápagos", "Komodo", "Pacific"}


def common_name(name: str) -> str:
    return " ".join(w if w in PROPER_WORDS else w.lower() for w in name.split())


# Place names that take "the" in running text.
THE_NAMES = {"United States", "United Kingdom", "Netherlands", "Philippines", "Czech Republic",
             "Democratic Republic of the Congo", "United Arab Emirates", "Moon", "Sun"}


def the(name: str) -> str:
    """'United States' -> 'the United States'; lists like 'Canada, United States' are left alone."""
    return f"the {name}" if name in THE_NAMES else name


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def year(y: int) -> str:
    return f"{-y} BC" if y < 0 else str(y)


# --- countries: name, capital, continent, population, area_km2, note, aliases ------------
COUNTRIES = [
    ("China", "Beijing", "Asia", 1_410_000_000, 9_597_000, "Its civilisation is one of the oldest continuous ones, and its economy is the second largest in the world.", ["People's Republic of China", "PRC"]),
    ("India", "New Delhi", "Asia", 1_430_000_000, 3_287_000, "It became the most populous country around 2023 and is the world's largest democracy.", ["Republic of India", "Bharat"]),
    ("United States", "Washington, D.C.", "North America", 335_000_000, 9_834_000, "A federal republic of fifty states, it has the largest economy in the world.", ["USA", "US", "U.S.", "United States of America", "America"]),
    ("Indonesia", "Jakarta", "Asia", 277_000_000, 1_905_000, "It spreads across more than 17,000 islands between the Indian and Pacific oceans.", []),
    ("Pakistan", "Islamabad", "Asia", 240_000_000, 882_000, "The Indus river runs the length of the country from the Himalayas to the Arabian Sea.", []),
    ("Nigeria", "Abuja", "Africa", 223_000_000, 923_768, "It is Africa's most populous country and one of its largest oil producers.", []),
    ("Brazil", "Brasília", "South America", 216_000_000, 8_516_000, "Most of the Amazon rainforest lies inside its borders, and Portuguese is its language.", []),
    ("Bangladesh", "Dhaka", "Asia", 172_000_000, 148_460, "One of the most densely populated countries, it sits on the delta of the Ganges and Brahmaputra.", []),
    ("Russia", "Moscow", "Europe", 144_000_000, 17_098_000, "The largest country on Earth by area, it spans eleven time zones across Europe and Asia.", ["Russian Federation"]),
    ("Mexico", "Mexico City", "North America", 128_000_000, 1_964_000, "It is home to the ruins of the Maya and Aztec civilisations.", []),
    ("Ethiopia", "Addis Ababa", "Africa", 126_000_000, 1_104_000, "A landlocked highland country, it is one of the oldest states in Africa.", []),
    ("Japan", "Tokyo", "Asia", 124_000_000, 377_975, "An island nation of four main islands, it is known for its technology and long-lived population.", []),
    ("Philippines", "Manila", "Asia", 117_000_000, 300_000, "An archipelago of over 7,000 islands in the western Pacific.", []),
    ("Egypt", "Cairo", "Africa", 112_000_000, 1_002_000, "Nearly all Egyptians live along the Nile valley and delta; the pyramids of Giza stand near Cairo.", []),
    ("Democratic Republic of the Congo", "Kinshasa", "Africa", 102_000_000, 2_345_000, "The Congo river and its rainforest basin cover much of the country.", ["DR Congo", "DRC", "Congo-Kinshasa"]),
    ("Vietnam", "Hanoi", "Asia", 99_000_000, 331_000, "A long, narrow country on the South China Sea, it ends in the Mekong delta.", ["Viet Nam"]),
    ("Iran", "Tehran", "Asia", 89_000_000, 1_648_000, "Formerly known as Persia, it lies between the Caspian Sea and the Persian Gulf.", ["Persia"]),
    ("Turkey", "Ankara", "Asia", 85_000_000, 783_562, "It straddles Europe and Asia, with Istanbul on both sides of the Bosporus.", ["Türkiye"]),
    ("Germany", "Berlin", "Europe", 84_000_000, 357_600, "It has the largest economy in Europe and was reunified in 1990.", ["Federal Republic of Germany", "Deutschland"]),
    ("Thailand", "Bangkok", "Asia", 71_000_000, 513_120, "It is the only country in Southeast Asia never colonised by a European power.", ["Siam"]),
    ("United Kingdom", "London", "Europe", 68_000_000, 243_610, "It unites England, Scotland, Wales and Northern Ireland.", ["UK", "U.K.", "Britain"]),
    ("France", "Paris", "Europe", 68_000_000, 551_695, "It is the most visited country in the world and a founding member of the European Union.", ["French Republic"]),
    ("Italy", "Rome", "Europe", 59_000_000, 301_340, "A boot-shaped peninsula reaching into the Mediterranean, it holds more world heritage sites than almost any other country.", []),
    ("South Africa", "Pretoria", "Africa", 60_000_000, 1_221_000, "It has three capital cities, for its executive, legislature and judiciary.", []),
    ("Tanzania", "Dodoma", "Africa", 67_000_000, 947_303, "Kilimanjaro and the Serengeti plains are both within its borders.", []),
    ("Kenya", "Nairobi", "Africa", 55_000_000, 580_367, "The equator crosses the country, and its runners dominate distance races.", []),
    ("South Korea", "Seoul", "Asia", 51_700_000, 100_210, "It is a major maker of ships, cars and microchips.", ["Republic of Korea", "Korea"]),
    ("Colombia", "Bogotá", "South America", 52_000_000, 1_142_000, "The only South American country with coasts on both the Pacific and the Caribbean.", []),
    ("Spain", "Madrid", "Europe", 48_000_000, 505_990, "It occupies most of the Iberian peninsula and includes the Balearic and Canary islands.", []),
    ("Argentina", "Buenos Aires", "South America", 46_000_000, 2_780_000, "Its territory runs from subtropical north to the glaciers of Patagonia.", []),
    ("Algeria", "Algiers", "Africa", 45_600_000, 2_382_000, "The largest country in Africa by area, it is mostly covered by the Sahara.", []),
    ("Sudan", "Khartoum", "Africa", 48_000_000, 1_886_000, "The Blue and White Nile meet at its capital.", []),
    ("Ukraine", "Kyiv", "Europe", 37_000_000, 603_550, "Apart from Russia it is the largest country lying wholly in Europe, famous for its black soil.", []),
    ("Canada", "Ottawa", "North America", 40_000_000, 9_985_000, "The second-largest country by area, it has the longest coastline on Earth.", []),
    ("Poland", "Warsaw", "Europe", 37_600_000, 312_696, "Its capital was rebuilt almost entirely after the Second World War.", []),
    ("Morocco", "Rabat", "Africa", 37_800_000, 446_550, "The Atlas Mountains separate its Atlantic coast from the Sahara.", []),
    ("Peru", "Lima", "South America", 34_000_000, 1_285_000, "Machu Picchu, the Inca citadel, stands in its Andes.", []),
    ("Saudi Arabia", "Riyadh", "Asia", 36_900_000, 2_150_000, "It covers most of the Arabian peninsula and holds vast oil reserves.", ["KSA"]),
    ("Australia", "Canberra", "Oceania", 26_600_000, 7_692_000, "A country that is also a continent, most of its people live on the coast.", []),
    ("Chile", "Santiago", "South America", 19_600_000, 756_102, "Over 4,000 km long and rarely more than 350 km wide, it runs between the Andes and the Pacific.", []),
    ("Netherlands", "Amsterdam", "Europe", 17_900_000, 41_850, "About a quarter of its land lies below sea level, held back by dikes.", ["Holland", "The Netherlands"]),
    ("Belgium", "Brussels", "Europe", 11_800_000, 30_689, "Its capital hosts the main institutions of the European Union and NATO.", []),
    ("Greece", "Athens", "Europe", 10_400_000, 131_957, "Birthplace of democracy and the Olympic Games, with some 6,000 islands.", ["Hellas"]),
    ("Portugal", "Lisbon", "Europe", 10_500_000, 92_212, "The westernmost country of mainland Europe, it launched the age of ocean exploration.", []),
    ("Sweden", "Stockholm", "Europe", 10_500_000, 450_295, "A Nordic country of forests and lakes, it awards the Nobel Prizes.", []),
    ("Switzerland", "Bern", "Europe", 8_800_000, 41_285, "A landlocked Alpine federation with four national languages.", []),
    ("Austria", "Vienna", "Europe", 9_100_000, 83_879, "The Alps cover most of the country and the Danube crosses its north.", []),
    ("Norway", "Oslo", "Europe", 5_500_000, 385_207, "Its coast is cut by deep fjords, and its oil wealth funds a huge sovereign fund.", []),
    ("Denmark", "Copenhagen", "Europe", 5_900_000, 42_952, "The oldest kingdom in Europe still existing; Greenland is part of its realm.", []),
    ("Finland", "Helsinki", "Europe", 5_600_000, 338_455, "It is known as the land of a thousand lakes, though it has nearly 188,000.", ["Suomi"]),
    ("Ireland", "Dublin", "Europe", 5_200_000, 70_273, "An island republic in the North Atlantic, known for green hills and literature.", ["Eire", "Republic of Ireland"]),
    ("New Zealand", "Wellington", "Oceania", 5_200_000, 268_021, "Two main islands in the South Pacific, among the last lands settled by humans.", ["Aotearoa"]),
    ("Iceland", "Reykjavík", "Europe", 390_000, 103_000, "A volcanic island on the Mid-Atlantic Ridge, with geysers and glaciers.", []),
    ("Mongolia", "Ulaanbaatar", "Asia", 3_400_000, 1_564_116, "The most sparsely populated sovereign country, a land of steppe and nomads.", []),
    ("Nepal", "Kathmandu", "Asia", 30_900_000, 147_516, "Eight of the ten highest mountains on Earth are on or inside its borders.", []),
    ("Venezuela", "Caracas", "South America", 28_800_000, 916_445, "It has the largest proven oil reserves in the world and the highest waterfall.", []),
    ("Cuba", "Havana", "North America", 11_000_000, 109_884, "The largest island of the Caribbean.", []),
    ("Kazakhstan", "Astana", "Asia", 19_800_000, 2_724_900, "The largest landlocked country in the world.", []),
    ("Madagascar", "Antananarivo", "Africa", 30_300_000, 587_041, "An island country whose lemurs and baobabs live nowhere else.", []),
    ("Ghana", "Accra", "Africa", 34_000_000, 238_533, "In 1957 it became the first sub-Saharan colony to gain independence.", []),
    ("Singapore", "Singapore", "Asia", 5_900_000, 734, "A city-state at the tip of the Malay peninsula and one of the busiest ports in the world.", []),
    ("Israel", "Jerusalem", "Asia", 9_800_000, 22_145, "A small country on the eastern Mediterranean with the Dead Sea on its border.", []),
    ("Jordan", "Amman", "Asia", 11_300_000, 89_342, "Home of the rock-cut city of Petra.", []),
    ("Vatican City", "Vatican City", "Europe", 800, 0.49, "The smallest country in the world, an enclave in Rome ruled by the Pope.", ["Vatican", "Holy See"]),
    ("Monaco", "Monaco", "Europe", 39_000, 2.02, "A tiny principality on the French Riviera, famous for its casino and Grand Prix.", []),
    ("Bolivia", "Sucre", "South America", 12_400_000, 1_098_581, "Its seat of government, La Paz, is the highest of any capital.", []),
    ("Ecuador", "Quito", "South America", 18_000_000, 283_561, "Named after the equator, it also governs the Galápagos Islands.", []),
    ("Czech Republic", "Prague", "Europe", 10_900_000, 78_871, "A landlocked country in central Europe famous for its castles and beer.", ["Czechia"]),
    ("Hungary", "Budapest", "Europe", 9_600_000, 93_028, "The Danube divides its capital into hilly Buda and flat Pest.", []),
    ("Romania", "Bucharest", "Europe", 19_000_000, 238_397, "The Carpathian Mountains arc through the country.", []),
    ("Malaysia", "Kuala Lumpur", "Asia", 34_000_000, 330_803, "It lies partly on the Malay peninsula and partly on Borneo.", []),
    ("Taiwan", "Taipei", "Asia", 23_400_000, 36_197, "An island off the coast of China and the leading maker of advanced chips.", []),
    ("United Arab Emirates", "Abu Dhabi", "Asia", 9_500_000, 83_600, "A federation of seven emirates, including Dubai.", ["UAE", "Emirates"]),
]

# --- cities: name, country, continent, population (metro area), elevation_m, note, aliases -
CITIES = [
    ("Tokyo", "Japan", "Asia", 37_200_000, 40, "The largest metropolitan area in the world, it was called Edo until 1868.", ["Edo"]),
    ("Delhi", "India", "Asia", 32_900_000, 216, "Its metropolitan area includes New Delhi, the national capital.", []),
    ("Shanghai", "China", "Asia", 29_200_000, 4, "China's financial centre at the mouth of the Yangtze, with the busiest container port on Earth.", []),
    ("Dhaka", "Bangladesh", "Asia", 23_200_000, 4, "One of the most densely populated cities in the world.", []),
    ("São Paulo", "Brazil", "South America", 22_600_000, 760, "The largest city in the southern hemisphere and Brazil's business capital.", ["Sao Paulo"]),
    ("Mexico City", "Mexico", "North America", 22_300_000, 2_240, "Built on the lake bed of the Aztec capital Tenochtitlan, it is slowly sinking.", ["Ciudad de México", "CDMX"]),
    ("Cairo", "Egypt", "Africa", 22_200_000, 23, "The largest city of Africa and the Arab world, on the Nile.", []),
    ("Beijing", "China", "Asia", 21_800_000, 44, "China's capital, home to the Forbidden City.", ["Peking"]),
    ("Mumbai", "India", "Asia", 21_300_000, 14, "India's financial capital and home of the Hindi film industry.", ["Bombay"]),
    ("Osaka", "Japan", "Asia", 19_000_000, 12, "Japan's second metropolis, famous for its street food.", []),
    ("Karachi", "Pakistan", "Asia", 17_200_000, 10, "Pakistan's largest city and main seaport on the Arabian Sea.", []),
    ("Chongqing", "China", "Asia", 17_000_000, 244, "A mountain city where the Jialing meets the Yangtze.", []),
    ("Istanbul", "Turkey", "Europe", 15_800_000, 39, "Formerly Byzantium and Constantinople, it spans the Bosporus between Europe and Asia.", ["Constantinople", "Byzantium"]),
    ("Buenos Aires", "Argentina", "South America", 15_500_000, 25, "A port on the Río de la Plata and the birthplace of the tango.", []),
    ("Kolkata", "India", "Asia", 15_300_000, 9, "The former capital of British India, on the Hooghly river.", ["Calcutta"]),
    ("Lagos", "Nigeria", "Africa", 15_900_000, 41, "Nigeria's commercial hub, one of the fastest-growing cities in the world.", []),
    ("Kinshasa", "Democratic Republic of the Congo", "Africa", 16_300_000, 240, "It faces Brazzaville across the Congo river.", []),
    ("Manila", "Philippines", "Asia", 14_700_000, 7, "The capital of the Philippines, on Manila Bay.", []),
    ("Rio de Janeiro", "Brazil", "South America", 13_700_000, 5, "Known for Carnival, Copacabana beach and the statue of Christ the Redeemer.", ["Rio"]),
    ("Moscow", "Russia", "Europe", 12_700_000, 156, "Russia's capital, centred on the Kremlin and Red Square.", []),
    ("Los Angeles", "United States", "North America", 12_500_000, 93, "The home of Hollywood and the second-largest US city.", ["LA", "L.A."]),
    ("Paris", "France", "Europe", 11_200_000, 35, "The French capital on the Seine, known for the Eiffel Tower and the Louvre.", []),
    ("Bangkok", "Thailand", "Asia", 11_000_000, 2, "Thailand's capital, laced with canals along the Chao Phraya river.", ["Krung Thep"]),
    ("Jakarta", "Indonesia", "Asia", 11_200_000, 8, "Indonesia's capital on Java, sinking so fast that a new capital is being built.", []),
    ("Lima", "Peru", "South America", 11_200_000, 154, "A coastal desert city founded by the Spanish in 1535.", []),
    ("London", "United Kingdom", "Europe", 9_600_000, 11, "The British capital on the Thames, a financial centre for centuries.", []),
    ("Seoul", "South Korea", "Asia", 10_000_000, 38, "South Korea's capital on the Han river.", []),
    ("New York City", "United States", "North America", 18_900_000, 10, "The most populous US city, with Wall Street, Broadway and the Statue of Liberty.", ["New York", "NYC", "NY"]),
    ("Chicago", "United States", "North America", 8_900_000, 181, "A city on Lake Michigan that gave the world the skyscraper.", []),
    ("Bogotá", "Colombia", "South America", 11_300_000, 2_640, "A high-altitude capital on a plateau of the Andes.", ["Bogota"]),
    ("Tehran", "Iran", "Asia", 9_500_000, 1_190, "Iran's capital at the foot of the Alborz mountains.", []),
    ("Hong Kong", "China", "Asia", 7_500_000, 32, "A dense harbour city with more skyscrapers than any other.", []),
    ("Madrid", "Spain", "Europe", 6_700_000, 667, "Spain's capital, one of the highest capitals in Europe.", []),
    ("Toronto", "Canada", "North America", 6_300_000, 76, "Canada's largest city, on Lake Ontario.", []),
    ("Berlin", "Germany", "Europe", 3_700_000, 34, "Germany's capital, divided by a wall from 1961 to 1989.", []),
    ("Rome", "Italy", "Europe", 4_300_000, 21, "The Eternal City, capital of the Roman Empire and today of Italy.", ["Roma"]),
    ("Sydney", "Australia", "Oceania", 5_300_000, 3, "Australia's largest city, around one of the finest natural harbours.", []),
    ("Melbourne", "Australia", "Oceania", 5_200_000, 31, "A coastal city on Port Phillip Bay known for sport and coffee.", []),
    ("Nairobi", "Kenya", "Africa", 5_300_000, 1_795, "A highland capital with a national park inside the city limits.", []),
    ("Johannesburg", "South Africa", "Africa", 6_200_000, 1_753, "Founded on a gold rush in 1886.", ["Joburg"]),
    ("Athens", "Greece", "Europe", 3_150_000, 70, "One of the oldest cities in the world, crowned by the Acropolis.", []),
    ("Vienna", "Austria", "Europe", 2_000_000, 190, "The imperial capital of the Habsburgs and a city of music.", ["Wien"]),
    ("Amsterdam", "Netherlands", "Europe", 1_200_000, -2, "A city of canals and bicycles, partly below sea level.", []),
    ("Prague", "Czech Republic", "Europe", 1_350_000, 235, "A city of spires on the Vltava river.", ["Praha"]),
    ("Lisbon", "Portugal", "Europe", 2_900_000, 50, "Built on seven hills above the Tagus estuary.", ["Lisboa"]),
    ("Stockholm", "Sweden", "Europe", 1_700_000, 28, "Spread across fourteen islands where Lake Mälaren meets the Baltic.", []),
    ("Oslo", "Norway", "Europe", 1_100_000, 23, "Norway's capital at the head of the Oslofjord.", []),
    ("Copenhagen", "Denmark", "Europe", 1_400_000, 14, "Denmark's capital, home of the Little Mermaid statue.", []),
    ("Dublin", "Ireland", "Europe", 1_450_000, 20, "Ireland's capital on the river Liffey.", []),
    ("Zurich", "Switzerland", "Europe", 1_400_000, 408, "Switzerland's largest city and a banking centre on Lake Zurich.", ["Zürich"]),
    ("Reykjavík", "Iceland", "Europe", 240_000, 15, "The northernmost capital of a sovereign state.", ["Reykjavik"]),
    ("La Paz", "Bolivia", "South America", 2_000_000, 3_640, "The highest seat of government in the world, in a canyon of the Andes.", []),
    ("Quito", "Ecuador", "South America", 2_000_000, 2_850, "A capital that sits almost exactly on the equator, high in the Andes.", []),
    ("Cape Town", "South Africa", "Africa", 4_800_000, 25, "A port city beneath Table Mountain near the Cape of Good Hope.", []),
    ("Addis Ababa", "Ethiopia", "Africa", 5_200_000, 2_355, "Ethiopia's capital and seat of the African Union.", []),
    ("Dubai", "United Arab Emirates", "Asia", 3_600_000, 5, "A desert trading city that grew into a skyline around the Burj Khalifa.", []),
    ("Mecca", "Saudi Arabia", "Asia", 2_400_000, 277, "The holiest city of Islam and the destination of the Hajj.", ["Makkah"]),
    ("Jerusalem", "Israel", "Asia", 980_000, 754, "A city sacred to Judaism, Christianity and Islam.", []),
    ("Kyoto", "Japan", "Asia", 1_460_000, 50, "Japan's imperial capital for over a thousand years, full of temples.", []),
    ("Venice", "Italy", "Europe", 250_000, 1, "A city built on more than a hundred islands in a lagoon, linked by canals.", ["Venezia"]),
    ("Barcelona", "Spain", "Europe", 5_600_000, 12, "The capital of Catalonia, known for Gaudí's architecture.", []),
    ("Vancouver", "Canada", "North America", 2_600_000, 70, "A Pacific port between mountains and sea.", []),
    ("San Francisco", "United States", "North America", 3_300_000, 16, "A hilly city on a bay, known for the Golden Gate Bridge.", ["SF"]),
    ("Ulaanbaatar", "Mongolia", "Asia", 1_700_000, 1_350, "The coldest national capital in the world.", ["Ulan Bator"]),
    ("Kathmandu", "Nepal", "Asia", 1_500_000, 1_400, "Nepal's capital, in a valley ringed by Himalayan foothills.", []),
    ("Lhasa", "China", "Asia", 870_000, 3_656, "The traditional seat of the Dalai Lama on the Tibetan plateau.", []),
    ("Denver", "United States", "North America", 2_900_000, 1_609, "The Mile High City at the foot of the Rocky Mountains.", []),
    ("Singapore City", "Singapore", "Asia", 5_900_000, 15, "The city that is the whole of the city-state of Singapore.", []),
    ("Washington, D.C.", "United States", "North America", 6_300_000, 7, "The US capital on the Potomac, home of the White House and the Capitol.", ["Washington DC", "Washington D.C."]),
    ("Canberra", "Australia", "Oceania", 470_000, 578, "A planned capital built as a compromise between Sydney and Melbourne.", []),
]

# --- rivers: name, continent, countries, mouth, length_km, discharge_m3s, basin_km2, note, aliases
RIVERS = [
    ("Nile", "Africa", "Uganda, South Sudan, Sudan, Egypt", "Mediterranean Sea", 6_650, 2_830, 3_254_555, "Usually counted the longest river in the world, it made ancient Egyptian civilisation possible.", []),
    ("Amazon", "South America", "Peru, Colombia, Brazil", "Atlantic Ocean", 6_400, 209_000, 7_050_000, "It carries more water than any other river, about a fifth of all river flow into the oceans.", ["Amazonas"]),
    ("Yangtze", "Asia", "China", "East China Sea", 6_300, 30_166, 1_808_500, "The longest river in Asia, dammed by the Three Gorges Dam.", ["Chang Jiang", "Yangtze River"]),
    ("Mississippi", "North America", "United States", "Gulf of Mexico", 3_730, 16_792, 2_981_076, "With the Missouri it forms the longest river system in North America.", []),
    ("Missouri", "North America", "United States", "Mississippi River", 3_767, 2_336, 1_371_000, "The longest river in North America, followed upstream by Lewis and Clark.", []),
    ("Yenisei", "Asia", "Mongolia, Russia", "Kara Sea", 5_539, 19_600, 2_580_000, "A great Siberian river that flows north into the Arctic.", ["Yenisey"]),
    ("Yellow River", "Asia", "China", "Bohai Sea", 5_464, 2_571, 752_546, "Named for its silt, it is called the cradle of Chinese civilisation.", ["Huang He"]),
    ("Ob", "Asia", "Russia", "Gulf of Ob", 3_650, 12_475, 2_990_000, "Together with the Irtysh it forms one of the longest systems in Asia.", []),
    ("Paraná", "South America", "Brazil, Paraguay, Argentina", "Río de la Plata", 4_880, 17_290, 2_582_672, "The Itaipu Dam on its course is one of the largest power plants on Earth.", ["Parana"]),
    ("Congo", "Africa", "Democratic Republic of the Congo, Republic of the Congo, Angola", "Atlantic Ocean", 4_700, 41_200, 4_014_500, "The deepest river in the world, crossing the equator twice.", ["Zaire River"]),
    ("Amur", "Asia", "Russia, China", "Sea of Okhotsk", 4_444, 11_400, 1_855_000, "For much of its length it forms the border between Russia and China.", ["Heilong Jiang"]),
    ("Lena", "Asia", "Russia", "Laptev Sea", 4_400, 17_100, 2_490_000, "It flows through permafrost and freezes over for months each year.", []),
    ("Mekong", "Asia", "China, Myanmar, Laos, Thailand, Cambodia, Vietnam", "South China Sea", 4_350, 16_000, 795_000, "One of the richest freshwater fisheries in the world.", []),
    ("Niger", "Africa", "Guinea, Mali, Niger, Nigeria", "Gulf of Guinea", 4_180, 5_589, 2_117_700, "It makes a great boomerang-shaped bend through the Sahel past Timbuktu.", []),
    ("Mackenzie", "North America", "Canada", "Beaufort Sea", 4_241, 9_910, 1_805_200, "Canada's longest river system, draining into the Arctic Ocean.", []),
    ("Volga", "Europe", "Russia", "Caspian Sea", 3_531, 8_060, 1_360_000, "The longest river in Europe, a national symbol of Russia.", []),
    ("Danube", "Europe", "Germany, Austria, Slovakia, Hungary, Croatia, Serbia, Romania, Bulgaria, Moldova, Ukraine", "Black Sea", 2_850, 6_500, 801_463, "It flows through more countries than any other river and past four capitals.", ["Donau"]),
    ("Murray", "Oceania", "Australia", "Southern Ocean", 2_508, 767, 1_061_469, "Australia's longest river, draining its most important farmland.", []),
    ("Indus", "Asia", "China, India, Pakistan", "Arabian Sea", 3_180, 6_600, 1_165_000, "It gave its name to India and fed the Indus Valley civilisation.", []),
    ("Ganges", "Asia", "India, Bangladesh", "Bay of Bengal", 2_525, 16_650, 1_086_000, "A sacred river in Hinduism, its basin is one of the most populous places on Earth.", ["Ganga"]),
    ("Brahmaputra", "Asia", "China, India, Bangladesh", "Bay of Bengal", 2_900, 19_800, 580_000, "It rises in Tibet and cuts through the Himalayas in a huge gorge.", []),
    ("Euphrates", "Asia", "Turkey, Syria, Iraq", "Shatt al-Arab", 2_800, 356, 500_000, "With the Tigris it framed Mesopotamia, the land between the rivers.", []),
    ("Tigris", "Asia", "Turkey, Syria, Iraq", "Shatt al-Arab", 1_850, 1_014, 375_000, "Baghdad stands on its banks.", []),
    ("Zambezi", "Africa", "Zambia, Angola, Namibia, Botswana, Zimbabwe, Mozambique", "Indian Ocean", 2_574, 3_400, 1_390_000, "It plunges over Victoria Falls on its way to the Indian Ocean.", ["Zambesi"]),
    ("Rio Grande", "North America", "United States, Mexico", "Gulf of Mexico", 3_051, 82, 557_722, "It marks the border between Texas and Mexico.", ["Río Bravo"]),
    ("Colorado River", "North America", "United States, Mexico", "Gulf of California", 2_330, 637, 637_137, "It carved the Grand Canyon and is so heavily used it rarely reaches the sea.", []),
    ("Columbia River", "North America", "Canada, United States", "Pacific Ocean", 2_000, 7_500, 668_000, "The largest river of the Pacific Northwest, lined with hydroelectric dams.", []),
    ("St. Lawrence River", "North America", "Canada, United States", "Gulf of St. Lawrence", 1_197, 10_100, 1_344_200, "It drains the Great Lakes to the Atlantic.", ["Saint Lawrence River", "St Lawrence"]),
    ("Rhine", "Europe", "Switzerland, Liechtenstein, Austria, Germany, France, Netherlands", "North Sea", 1_233, 2_900, 185_000, "One of Europe's busiest waterways, rising in the Swiss Alps.", ["Rhein"]),
    ("Elbe", "Europe", "Czech Republic, Germany", "North Sea", 1_094, 870, 148_268, "Hamburg's port lies on its lower course.", []),
    ("Loire", "Europe", "France", "Bay of Biscay", 1_006, 840, 117_000, "The longest river in France, lined with Renaissance châteaux.", []),
    ("Seine", "Europe", "France", "English Channel", 777, 560, 79_000, "It flows through the heart of Paris.", []),
    ("Thames", "Europe", "United Kingdom", "North Sea", 346, 66, 12_935, "The river of London, tidal up to Teddington Lock.", []),
    ("Tagus", "Europe", "Spain, Portugal", "Atlantic Ocean", 1_007, 500, 80_100, "The longest river of the Iberian peninsula, reaching the sea at Lisbon.", ["Tajo", "Tejo"]),
    ("Orinoco", "South America", "Venezuela, Colombia", "Atlantic Ocean", 2_140, 37_000, 880_000, "Its delta is a maze of channels and mangroves.", []),
    ("Yukon", "North America", "Canada, United States", "Bering Sea", 3_190, 6_430, 832_700, "Gold rush river of the far north, frozen half the year.", []),
    ("Dnieper", "Europe", "Russia, Belarus, Ukraine", "Black Sea", 2_201, 1_670, 504_000, "Kyiv stands on its banks.", ["Dnipro"]),
    ("Po", "Europe", "Italy", "Adriatic Sea", 652, 1_540, 71_000, "Italy's longest river, watering the plain of the north.", []),
    ("Jordan River", "Asia", "Israel, Jordan, Syria", "Dead Sea", 251, 15, 18_000, "It flows into the Dead Sea, the lowest point on land.", []),
]

# --- mountains: name, range, country, continent, height_m, first_ascent_year, note, aliases
MOUNTAINS = [
    ("Mount Everest", "Himalayas", "Nepal, China", "Asia", 8_849, 1953, "The highest mountain above sea level, first climbed by Edmund Hillary and Tenzing Norgay.", ["Chomolungma", "Sagarmatha"]),
    ("K2", "Karakoram", "Pakistan, China", "Asia", 8_611, 1954, "The second-highest mountain, known as the savage mountain for its danger.", ["Mount Godwin-Austen", "Chhogori"]),
    ("Kangchenjunga", "Himalayas", "Nepal, India", "Asia", 8_586, 1955, "The third-highest mountain, with five summits.", ["Kanchenjunga"]),
    ("Lhotse", "Himalayas", "Nepal, China", "Asia", 8_516, 1956, "Everest's southern neighbour, joined to it by the South Col.", []),
    ("Makalu", "Himalayas", "Nepal, China", "Asia", 8_485, 1955, "A four-sided pyramid of granite east of Everest.", []),
    ("Cho Oyu", "Himalayas", "Nepal, China", "Asia", 8_188, 1954, "Considered the easiest of the 8,000-metre peaks.", []),
    ("Dhaulagiri", "Himalayas", "Nepal", "Asia", 8_167, 1960, "Its name means white mountain.", []),
    ("Manaslu", "Himalayas", "Nepal", "Asia", 8_163, 1956, "First climbed by a Japanese expedition.", []),
    ("Nanga Parbat", "Himalayas", "Pakistan", "Asia", 8_126, 1953, "The western anchor of the Himalayas, with a huge Rupal face.", []),
    ("Annapurna", "Himalayas", "Nepal", "Asia", 8_091, 1950, "The first 8,000-metre peak ever climbed, and one of the deadliest.", []),
    ("Aconcagua", "Andes", "Argentina", "South America", 6_961, 1897, "The highest mountain outside Asia.", []),
    ("Ojos del Salado", "Andes", "Chile, Argentina", "South America", 6_893, 1937, "The highest active volcano on Earth.", []),
    ("Huascarán", "Andes", "Peru", "South America", 6_768, 1932, "The highest mountain in the tropics.", ["Huascaran"]),
    ("Chimborazo", "Andes", "Ecuador", "South America", 6_263, 1880, "Because of Earth's bulge its summit is the point farthest from the planet's centre.", []),
    ("Denali", "Alaska Range", "United States", "North America", 6_190, 1913, "The highest mountain in North America.", ["Mount McKinley"]),
    ("Mount Logan", "Saint Elias Mountains", "Canada", "North America", 5_959, 1925, "The highest mountain in Canada, with an enormous ice-covered massif.", []),
    ("Pico de Orizaba", "Trans-Mexican Volcanic Belt", "Mexico", "North America", 5_636, 1848, "Mexico's highest peak, a dormant volcano.", ["Citlaltépetl"]),
    ("Mount Whitney", "Sierra Nevada", "United States", "North America", 4_421, 1873, "The highest summit in the contiguous United States.", []),
    ("Mount Rainier", "Cascade Range", "United States", "North America", 4_392, 1870, "A glaciated volcano that looms over Seattle.", []),
    ("Mount St. Helens", "Cascade Range", "United States", "North America", 2_549, 1853, "Its 1980 eruption blew away the top 400 metres of the mountain.", ["Mount Saint Helens"]),
    ("Kilimanjaro", "Eastern Rift", "Tanzania", "Africa", 5_895, 1889, "The highest mountain in Africa and the highest free-standing mountain in the world.", ["Mount Kilimanjaro"]),
    ("Mount Kenya", "Eastern Rift", "Kenya", "Africa", 5_199, 1899, "The second-highest mountain in Africa, an eroded volcano on the equator.", []),
    ("Mount Stanley", "Rwenzori Mountains", "Democratic Republic of the Congo, Uganda", "Africa", 5_109, 1906, "The highest of the Mountains of the Moon.", []),
    ("Mount Elbrus", "Caucasus", "Russia", "Europe", 5_642, 1874, "A dormant volcano, usually counted the highest mountain in Europe.", []),
    ("Mont Blanc", "Alps", "France, Italy", "Europe", 4_806, 1786, "The highest mountain in the Alps, its first ascent is often called the birth of mountaineering.", ["Monte Bianco"]),
    ("Matterhorn", "Alps", "Switzerland, Italy", "Europe", 4_478, 1865, "A near-symmetrical pyramid above Zermatt.", ["Monte Cervino", "Mont Cervin"]),
    ("Eiger", "Alps", "Switzerland", "Europe", 3_967, 1858, "Its north face is one of the great challenges of alpinism.", []),
    ("Zugspitze", "Alps", "Germany", "Europe", 2_962, 1820, "The highest mountain in Germany.", []),
    ("Mount Olympus", "Olympus Range", "Greece", "Europe", 2_918, 1913, "The home of the gods in Greek myth.", []),
    ("Mount Etna", "Sicilian volcanic province", "Italy", "Europe", 3_357, None, "One of the most active volcanoes in the world.", []),
    ("Mount Vesuvius", "Campanian volcanic arc", "Italy", "Europe", 1_281, None, "Its eruption in AD 79 buried Pompeii and Herculaneum.", ["Vesuvio"]),
    ("Mount Fuji", "Fuji volcanic zone", "Japan", "Asia", 3_776, 663, "Japan's highest and most sacred mountain, a nearly perfect cone.", ["Fujisan", "Fujiyama"]),
    ("Mount Kosciuszko", "Great Dividing Range", "Australia", "Oceania", 2_228, 1840, "The highest mountain on mainland Australia.", []),
    ("Puncak Jaya", "Sudirman Range", "Indonesia", "Oceania", 4_884, 1962, "The highest island peak in the world, on New Guinea.", ["Carstensz Pyramid"]),
    ("Aoraki", "Southern Alps", "New Zealand", "Oceania", 3_724, 1894, "New Zealand's highest mountain, where Edmund Hillary trained.", ["Mount Cook", "Aoraki / Mount Cook"]),
    ("Vinson Massif", "Sentinel Range", "Antarctica", "Antarctica", 4_892, 1966, "The highest mountain in Antarctica.", ["Mount Vinson"]),
    ("Mauna Kea", "Hawaiian Islands", "United States", "Oceania", 4_207, None, "Measured from its base on the ocean floor it is over 10,000 m tall, taller than Everest.", []),
    ("Ben Nevis", "Grampian Mountains", "United Kingdom", "Europe", 1_345, 1771, "The highest mountain in the British Isles.", []),
    ("Table Mountain", "Cape Fold Belt", "South Africa", "Africa", 1_085, 1503, "A flat-topped mountain overlooking Cape Town.", []),
    ("Mount Ararat", "Armenian Highlands", "Turkey", "Asia", 5_137, 1829, "A snow-capped volcano linked to the story of Noah's Ark.", ["Ararat"]),
]

# --- lakes: name, countries, continent, area_km2, depth_m, elevation_m, volume_km3, note, aliases
LAKES = [
    ("Caspian Sea", "Russia, Kazakhstan, Turkmenistan, Iran, Azerbaijan", "Asia", 371_000, 1_025, -28, 78_200, "The largest lake on Earth by area, salty and called a sea.", ["Caspian"]),
    ("Lake Superior", "United States, Canada", "North America", 82_100, 406, 183, 12_100, "The largest of the Great Lakes and the largest freshwater lake by area.", []),
    ("Lake Victoria", "Uganda, Kenya, Tanzania", "Africa", 68_870, 84, 1_134, 2_750, "Africa's largest lake and a source of the White Nile.", ["Victoria Nyanza"]),
    ("Lake Huron", "United States, Canada", "North America", 59_600, 229, 176, 3_540, "A Great Lake with the longest shoreline, including Georgian Bay.", []),
    ("Lake Michigan", "United States", "North America", 58_000, 281, 176, 4_900, "The only Great Lake entirely within the United States.", []),
    ("Lake Tanganyika", "Tanzania, Democratic Republic of the Congo, Burundi, Zambia", "Africa", 32_600, 1_470, 773, 18_900, "The longest freshwater lake and the second deepest.", []),
    ("Lake Baikal", "Russia", "Asia", 31_500, 1_642, 456, 23_615, "The deepest and oldest lake, holding about a fifth of the world's unfrozen fresh surface water.", ["Baikal"]),
    ("Great Bear Lake", "Canada", "North America", 31_153, 446, 156, 2_236, "The largest lake entirely within Canada, frozen most of the year.", []),
    ("Lake Malawi", "Malawi, Mozambique, Tanzania", "Africa", 29_600, 706, 500, 8_400, "Home to more fish species than any other lake.", ["Lake Nyasa"]),
    ("Great Slave Lake", "Canada", "North America", 27_200, 614, 156, 1_560, "The deepest lake in North America.", []),
    ("Lake Erie", "United States, Canada", "North America", 25_700, 64, 174, 484, "The shallowest and warmest of the Great Lakes.", []),
    ("Lake Ontario", "United States, Canada", "North America", 18_960, 244, 75, 1_640, "The last of the Great Lakes before the St. Lawrence.", []),
    ("Lake Ladoga", "Russia", "Europe", 17_700, 230, 5, 837, "The largest lake entirely in Europe, near Saint Petersburg.", []),
    ("Lake Titicaca", "Peru, Bolivia", "South America", 8_372, 281, 3_812, 893, "The largest lake of South America and one of the highest navigable lakes.", []),
    ("Lake Geneva", "Switzerland, France", "Europe", 580, 310, 372, 89, "A crescent-shaped Alpine lake with Geneva at its tip.", ["Lac Léman", "Lake Leman"]),
    ("Lake Como", "Italy", "Europe", 146, 425, 198, 22.5, "A deep, Y-shaped lake at the foot of the Alps.", []),
    ("Loch Ness", "United Kingdom", "Europe", 56, 227, 16, 7.4, "A deep Scottish loch famous for its legendary monster.", []),
    ("Dead Sea", "Israel, Jordan", "Asia", 605, 298, -430, 114, "A salt lake on the lowest land on Earth, so salty that people float.", []),
    ("Lake Tahoe", "United States", "North America", 490, 501, 1_897, 151, "A clear alpine lake on the border of California and Nevada.", []),
    ("Crater Lake", "United States", "North America", 53, 594, 1_883, 18.7, "It fills the caldera of a collapsed volcano and is the deepest lake in the US.", []),
    ("Lake Chad", "Chad, Cameroon, Niger, Nigeria", "Africa", 1_350, 11, 280, 72, "A shallow lake that has shrunk dramatically since the 1960s.", []),
]

# --- animals: name, class, habitat, diet, mass_kg, top_speed_kmh, lifespan_years, note, aliases
ANIMALS = [
    ("Cheetah", "mammal", "African savanna", "carnivore", 54, 112, 12, "The fastest land animal, able to sprint for only a few hundred metres.", []),
    ("Pronghorn", "mammal", "North American grassland", "herbivore", 50, 88, 12, "It can hold a high speed far longer than a cheetah.", []),
    ("Springbok", "mammal", "Southern African plains", "herbivore", 35, 88, 10, "A gazelle famous for its high stiff-legged leaps.", []),
    ("Lion", "mammal", "African savanna", "carnivore", 190, 80, 14, "The only big cat that lives in groups, called prides.", []),
    ("Horse", "mammal", "farms and stables worldwide", "herbivore", 500, 88, 28, "Domesticated on the steppe some 5,500 years ago.", []),
    ("African elephant", "mammal", "African savanna and forest", "herbivore", 6_000, 40, 65, "The largest land animal.", ["Elephant", "African bush elephant"]),
    ("Asian elephant", "mammal", "South and Southeast Asian forest", "herbivore", 4_000, 40, 60, "Smaller than its African cousin, with smaller ears.", []),
    ("Blue whale", "mammal", "open ocean", "filter feeder", 140_000, 50, 85, "The largest animal that has ever lived.", []),
    ("Sperm whale", "mammal", "deep ocean", "carnivore", 41_000, 37, 70, "It dives beyond 2,000 m to hunt giant squid.", []),
    ("Orca", "mammal", "all oceans", "carnivore", 5_500, 56, 50, "The largest dolphin, an apex predator hunting in family pods.", ["Killer whale"]),
    ("Bottlenose dolphin", "mammal", "warm coastal seas", "carnivore", 300, 35, 45, "A highly social and intelligent marine mammal.", ["Dolphin"]),
    ("Great white shark", "fish", "coastal temperate seas", "carnivore", 1_100, 56, 70, "The largest predatory fish.", ["White shark"]),
    ("Shortfin mako shark", "fish", "open ocean", "carnivore", 135, 74, 32, "Among the fastest sharks, able to leap clear of the water.", ["Mako shark"]),
    ("Sailfish", "fish", "warm open ocean", "carnivore", 90, 110, 13, "Often called the fastest fish, though its top speed is debated.", []),
    ("Black marlin", "fish", "Indo-Pacific ocean", "carnivore", 750, 129, 15, "A huge billfish with a disputed claim to the fastest swim.", []),
    ("Peregrine falcon", "bird", "worldwide", "carnivore", 1, 389, 15, "The fastest animal of all in its hunting dive.", ["Peregrine"]),
    ("Golden eagle", "bird", "Northern Hemisphere mountains", "carnivore", 5, 320, 30, "A powerful eagle that dives on hares and marmots.", []),
    ("Ostrich", "bird", "African savanna", "omnivore", 120, 70, 45, "The largest bird and the fastest runner on two legs.", []),
    ("Emperor penguin", "bird", "Antarctic sea ice", "carnivore", 30, 9, 20, "The largest penguin, breeding through the Antarctic winter.", []),
    ("Common swift", "bird", "Europe, Asia and Africa", "insectivore", 0.04, 111, 21, "It stays airborne for months, even sleeping on the wing.", ["Swift"]),
    ("Ruby-throated hummingbird", "bird", "eastern North America", "nectar", 0.003, 50, 5, "It beats its wings over fifty times a second.", ["Hummingbird"]),
    ("Giraffe", "mammal", "African savanna", "herbivore", 1_200, 60, 25, "The tallest animal, up to about 5.5 m.", []),
    ("Hippopotamus", "mammal", "African rivers and lakes", "herbivore", 1_500, 30, 45, "A semi-aquatic giant and one of Africa's most dangerous animals.", ["Hippo"]),
    ("White rhinoceros", "mammal", "African grassland", "herbivore", 2_300, 50, 45, "The largest rhinoceros.", ["White rhino", "Rhinoceros", "Rhino"]),
    ("Brown bear", "mammal", "northern forests and mountains", "omnivore", 300, 56, 25, "A widespread bear that includes the grizzly.", ["Grizzly bear", "Grizzly"]),
    ("Polar bear", "mammal", "Arctic sea ice", "carnivore", 450, 40, 25, "The largest land carnivore, hunting seals on the ice.", []),
    ("Gray wolf", "mammal", "Northern Hemisphere", "carnivore", 40, 65, 13, "The wild ancestor of the dog, hunting in packs.", ["Wolf", "Grey wolf"]),
    ("Red fox", "mammal", "Northern Hemisphere", "omnivore", 6, 50, 4, "The most widespread wild carnivore.", ["Fox"]),
    ("Western gorilla", "mammal", "Central African rainforest", "herbivore", 160, 40, 37, "The largest living primate.", ["Gorilla"]),
    ("Chimpanzee", "mammal", "African rainforest", "omnivore", 50, 40, 40, "With the bonobo, our closest living relative.", ["Chimp"]),
    ("Red kangaroo", "mammal", "Australian outback", "herbivore", 85, 70, 22, "The largest marsupial, hopping at speed.", ["Kangaroo"]),
    ("Koala", "mammal", "eastern Australian eucalyptus forest", "herbivore", 9, 30, 15, "It sleeps up to twenty hours a day on a diet of eucalyptus.", []),
    ("Giant panda", "mammal", "Chinese mountain bamboo forest", "herbivore", 100, 32, 20, "A bear that lives almost entirely on bamboo.", ["Panda"]),
    ("Tiger", "mammal", "Asian forest", "carnivore", 220, 65, 15, "The largest cat, with a striped coat unique to each animal.", ["Bengal tiger"]),
    ("Jaguar", "mammal", "American rainforest", "carnivore", 95, 80, 12, "The largest cat of the Americas, with a crushing bite.", []),
    ("Saltwater crocodile", "reptile", "Indo-Pacific coasts and rivers", "carnivore", 1_000, 29, 70, "The largest living reptile.", ["Crocodile"]),
    ("Komodo dragon", "reptile", "Indonesian islands", "carnivore", 80, 20, 30, "The largest lizard.", []),
    ("Galápagos tortoise", "reptile", "Galápagos Islands", "herbivore", 250, 0.3, 100, "A giant tortoise that can live well over a century.", ["Galapagos tortoise", "Giant tortoise"]),
    ("Green sea turtle", "reptile", "tropical seas", "herbivore", 150, 35, 80, "It migrates thousands of kilometres to nest on its birth beach.", ["Sea turtle"]),
    ("Garden snail", "mollusc", "gardens and hedgerows", "herbivore", 0.005, 0.05, 5, "A byword for slowness.", ["Snail"]),
    ("House cat", "mammal", "homes worldwide", "carnivore", 4.5, 48, 15, "Domesticated in the Near East some 10,000 years ago.", ["Cat", "Domestic cat"]),
    ("Black mamba", "reptile", "African savanna", "carnivore", 1.6, 20, 11, "One of the fastest and most venomous snakes.", []),
    ("Giant Pacific octopus", "mollusc", "North Pacific coasts", "carnivore", 15, 10, 4, "The largest octopus, able to solve puzzles.", ["Octopus"]),
    ("Greyhound", "mammal", "homes worldwide", "carnivore", 30, 72, 12, "The fastest dog breed.", []),
]

# --- people: name, field, nationality, birth_year, death_year, note, aliases -----------------
PEOPLE = [
    ("Isaac Newton", "physics and mathematics", "English", 1643, 1727, "He formulated the laws of motion and universal gravitation and co-invented calculus.", ["Newton"]),
    ("Albert Einstein", "physics", "German-born", 1879, 1955, "He developed the theory of relativity and won the 1921 Nobel Prize in Physics.", ["Einstein"]),
    ("Marie Curie", "physics and chemistry", "Polish-French", 1867, 1934, "A pioneer of radioactivity and the first person to win two Nobel Prizes.", ["Maria Skłodowska-Curie", "Curie"]),
    ("Charles Darwin", "biology", "English", 1809, 1882, "He proposed evolution by natural selection in On the Origin of Species.", ["Darwin"]),
    ("Galileo Galilei", "astronomy and physics", "Italian", 1564, 1642, "He turned the telescope on the sky and championed a Sun-centred cosmos.", ["Galileo"]),
    ("Nicolaus Copernicus", "astronomy", "Polish", 1473, 1543, "He placed the Sun, not the Earth, at the centre of the planetary system.", ["Copernicus"]),
    ("Johannes Kepler", "astronomy", "German", 1571, 1630, "He discovered that planets move in ellipses.", ["Kepler"]),
    ("Ada Lovelace", "mathematics", "English", 1815, 1852, "She wrote what is considered the first computer program, for Babbage's Analytical Engine.", []),
    ("Alan Turing", "mathematics and computing", "English", 1912, 1954, "A founder of computer science who helped break the Enigma code.", ["Turing"]),
    ("Leonhard Euler", "mathematics", "Swiss", 1707, 1783, "One of the most prolific mathematicians, behind much of modern notation.", ["Euler"]),
    ("Carl Friedrich Gauss", "mathematics", "German", 1777, 1855, "The prince of mathematicians, who worked on number theory and magnetism.", ["Gauss"]),
    ("Nikola Tesla", "engineering", "Serbian-American", 1856, 1943, "An inventor behind alternating-current power systems.", ["Tesla"]),
    ("Thomas Edison", "invention", "American", 1847, 1931, "He held over a thousand patents, including the phonograph and a practical light bulb.", ["Edison"]),
    ("Leonardo da Vinci", "art and science", "Italian", 1452, 1519, "The Renaissance polymath who painted the Mona Lisa.", ["Leonardo", "Da Vinci"]),
    ("Michelangelo", "art", "Italian", 1475, 1564, "The sculptor of David and painter of the Sistine Chapel ceiling.", ["Michelangelo Buonarroti"]),
    ("William Shakespeare", "literature", "English", 1564, 1616, "The playwright of Hamlet, Macbeth and Romeo and Juliet.", ["Shakespeare"]),
    ("Wolfgang Amadeus Mozart", "music", "Austrian", 1756, 1791, "A child prodigy who wrote over 600 works in his short life.", ["Mozart"]),
    ("Ludwig van Beethoven", "music", "German", 1770, 1827, "He composed nine symphonies, the later ones while deaf.", ["Beethoven"]),
    ("Johann Sebastian Bach", "music", "German", 1685, 1750, "The master of Baroque counterpoint.", ["Bach", "J. S. Bach"]),
    ("Pablo Picasso", "art", "Spanish", 1881, 1973, "A co-founder of Cubism and painter of Guernica.", ["Picasso"]),
    ("Vincent van Gogh", "art", "Dutch", 1853, 1890, "A post-impressionist who painted The Starry Night and sold almost nothing in his lifetime.", ["Van Gogh"]),
    ("Frida Kahlo", "art", "Mexican", 1907, 1954, "A painter celebrated for her vivid self-portraits.", []),
    ("Jane Austen", "literature", "English", 1775, 1817, "The novelist of Pride and Prejudice and Emma.", []),
    ("Leo Tolstoy", "literature", "Russian", 1828, 1910, "The author of War and Peace and Anna Karenina.", ["Tolstoy"]),
    ("Cleopatra", "politics", "Egyptian (Ptolemaic)", -69, -30, "The last active ruler of Ptolemaic Egypt.", ["Cleopatra VII"]),
    ("Julius Caesar", "politics and war", "Roman", -100, -44, "A Roman general and dictator assassinated on the Ides of March.", ["Caesar"]),
    ("Alexander the Great", "war and politics", "Macedonian", -356, -323, "He built an empire from Greece to India before he was thirty.", ["Alexander III of Macedon"]),
    ("Genghis Khan", "war and politics", "Mongol", 1162, 1227, "He founded the Mongol Empire, the largest contiguous land empire.", ["Chinggis Khan"]),
    ("Napoleon Bonaparte", "war and politics", "French", 1769, 1821, "Emperor of the French, defeated at Waterloo in 1815.", ["Napoleon"]),
    ("Abraham Lincoln", "politics", "American", 1809, 1865, "The sixteenth US president, who led the Union through the Civil War.", ["Lincoln"]),
    ("Mahatma Gandhi", "politics", "Indian", 1869, 1948, "He led India's non-violent struggle for independence.", ["Gandhi", "Mohandas Gandhi"]),
    ("Nelson Mandela", "politics", "South African", 1918, 2013, "Imprisoned for 27 years, he became South Africa's first Black president.", ["Mandela"]),
    ("Martin Luther King Jr.", "civil rights", "American", 1929, 1968, "A leader of the civil rights movement who gave the I Have a Dream speech.", ["Martin Luther King", "MLK"]),
    ("Queen Victoria", "monarchy", "British", 1819, 1901, "She reigned over the United Kingdom for 63 years.", []),
    ("Elizabeth I", "monarchy", "English", 1533, 1603, "The last Tudor monarch, whose reign saw the defeat of the Spanish Armada.", ["Queen Elizabeth I"]),
    ("Christopher Columbus", "exploration", "Genoese", 1451, 1506, "His 1492 voyage opened lasting contact between Europe and the Americas.", ["Columbus"]),
    ("Ferdinand Magellan", "exploration", "Portuguese", 1480, 1521, "He led the first expedition to sail around the world, though he died on the way.", ["Magellan"]),
    ("Marco Polo", "exploration", "Venetian", 1254, 1324, "His account of travels to China fascinated medieval Europe.", []),
    ("Neil Armstrong", "spaceflight", "American", 1930, 2012, "The first person to walk on the Moon, in July 1969.", ["Armstrong"]),
    ("Yuri Gagarin", "spaceflight", "Soviet", 1934, 1968, "The first human in space, in April 1961.", ["Gagarin"]),
    ("Amelia Earhart", "aviation", "American", 1897, 1937, "The first woman to fly solo across the Atlantic; she vanished over the Pacific.", []),
    ("Stephen Hawking", "physics", "English", 1942, 2018, "He showed that black holes should emit radiation.", ["Hawking"]),
    ("Rosalind Franklin", "chemistry", "English", 1920, 1958, "Her X-ray images revealed the double-helix structure of DNA.", []),
    ("Confucius", "philosophy", "Chinese", -551, -479, "His teachings on ethics and family shaped East Asian culture.", ["Kong Fuzi"]),
    ("Aristotle", "philosophy", "Greek", -384, -322, "A student of Plato and tutor of Alexander, he wrote on nearly every subject.", []),
    ("Plato", "philosophy", "Greek", -428, -348, "A student of Socrates who founded the Academy in Athens.", []),
    ("Ibn Battuta", "exploration", "Moroccan", 1304, 1369, "He travelled some 120,000 km across the medieval Islamic world and beyond.", []),
    ("Hypatia", "mathematics and philosophy", "Greek (Alexandrian)", 360, 415, "A mathematician and astronomer who taught in Alexandria.", []),
    ("Tim Berners-Lee", "computing", "English", 1955, None, "He invented the World Wide Web in 1989.", ["Berners-Lee"]),
    ("Katherine Johnson", "mathematics", "American", 1918, 2020, "Her orbital calculations guided early NASA crewed flights.", []),
]

# --- space: name, kind, mass_kg, radius_km, orbital_period_days, orbits, distance, moons, note, aliases
# distance is from the Sun in million km for planets, from the parent in km for moons,
# in light years for stars other than the Sun.
SPACE = [
    ("Mercury", "planet", 3.301e23, 2_439.7, 88.0, "Sun", 57.9, 0, "The smallest planet and the closest to the Sun.", []),
    ("Venus", "planet", 4.867e24, 6_051.8, 224.7, "Sun", 108.2, 0, "The hottest planet, wrapped in a thick carbon dioxide atmosphere.", []),
    ("Earth", "planet", 5.972e24, 6_371.0, 365.25, "Sun", 149.6, 1, "The only world known to harbour life, with liquid water covering most of its surface.", ["The Earth", "World"]),
    ("Mars", "planet", 6.417e23, 3_389.5, 687.0, "Sun", 227.9, 2, "The red planet, home of Olympus Mons, the tallest volcano in the solar system.", []),
    ("Jupiter", "planet", 1.898e27, 69_911, 4_333, "Sun", 778.5, 95, "The largest planet, a gas giant with the Great Red Spot.", []),
    ("Saturn", "planet", 5.683e26, 58_232, 10_759, "Sun", 1_432, 146, "A gas giant with the most spectacular ring system.", []),
    ("Uranus", "planet", 8.681e25, 25_362, 30_687, "Sun", 2_867, 28, "An ice giant that rotates on its side.", []),
    ("Neptune", "planet", 1.024e26, 24_622, 60_190, "Sun", 4_515, 16, "The windiest planet, found by mathematics before it was seen.", []),
    ("Pluto", "dwarf planet", 1.303e22, 1_188.3, 90_560, "Sun", 5_906, 5, "Reclassified as a dwarf planet in 2006; visited by New Horizons in 2015.", []),
    ("Ceres", "dwarf planet", 9.38e20, 469.7, 1_682, "Sun", 413.7, 0, "The largest object in the asteroid belt.", []),
    ("Eris", "dwarf planet", 1.66e22, 1_163, 203_830, "Sun", 10_125, 1, "A distant dwarf planet whose discovery led to Pluto's demotion.", []),
    ("Moon", "moon", 7.342e22, 1_737.4, 27.3, "Earth", 384_400, None, "Earth's only natural satellite, visited by twelve astronauts.", ["The Moon", "Luna"]),
    ("Io", "moon", 8.93e22, 1_821.6, 1.77, "Jupiter", 421_700, None, "The most volcanically active body in the solar system.", []),
    ("Europa", "moon", 4.80e22, 1_560.8, 3.55, "Jupiter", 671_034, None, "An icy moon hiding a global ocean beneath its crust.", []),
    ("Ganymede", "moon", 1.48e23, 2_634.1, 7.15, "Jupiter", 1_070_412, None, "The largest moon in the solar system, bigger than Mercury.", []),
    ("Callisto", "moon", 1.08e23, 2_410.3, 16.7, "Jupiter", 1_882_709, None, "The most heavily cratered surface in the solar system.", []),
    ("Titan", "moon", 1.345e23, 2_574.7, 15.95, "Saturn", 1_221_870, None, "The only moon with a thick atmosphere and lakes of liquid methane.", []),
    ("Enceladus", "moon", 1.08e20, 252.1, 1.37, "Saturn", 237_948, None, "Geysers of water ice erupt from its south pole.", []),
    ("Triton", "moon", 2.14e22, 1_353.4, 5.88, "Neptune", 354_759, None, "It orbits backwards, probably a captured Kuiper belt object.", []),
    ("Phobos", "moon", 1.07e16, 11.27, 0.32, "Mars", 9_376, None, "A small moon spiralling slowly towards Mars.", []),
    ("Sun", "star", 1.989e30, 696_340, None, None, 0, None, "The star at the centre of the solar system, holding 99.8% of its mass.", ["The Sun", "Sol"]),
    ("Proxima Centauri", "star", 2.4e29, 107_280, None, None, 4.25, None, "The nearest star to the Sun, a red dwarf with at least one planet.", ["Proxima"]),
    ("Sirius", "star", 4.1e30, 1_190_000, None, None, 8.6, None, "The brightest star in the night sky.", ["Dog Star"]),
    ("Betelgeuse", "star", 3.6e31, 617_000_000, None, None, 548, None, "A red supergiant in Orion expected to explode as a supernova.", []),
    ("Polaris", "star", 1.07e31, 26_000_000, None, None, 433, None, "The North Star, almost directly above Earth's north pole.", ["North Star", "Pole Star"]),
]

# --- buildings: name, city, country, height_m, floors, completed_year, type, note, aliases -
BUILDINGS = [
    ("Burj Khalifa", "Dubai", "United Arab Emirates", 828, 163, 2010, "skyscraper", "The tallest building in the world since 2010.", []),
    ("Merdeka 118", "Kuala Lumpur", "Malaysia", 679, 118, 2023, "skyscraper", "The second-tallest building in the world.", []),
    ("Shanghai Tower", "Shanghai", "China", 632, 128, 2015, "skyscraper", "A twisting tower in Lujiazui, the tallest in China.", []),
    ("Abraj Al-Bait Clock Tower", "Mecca", "Saudi Arabia", 601, 120, 2012, "skyscraper", "It carries the largest clock face in the world beside the Great Mosque.", ["Makkah Royal Clock Tower", "Mecca Clock Tower"]),
    ("Ping An Finance Centre", "Shenzhen", "China", 599, 115, 2017, "skyscraper", "Shenzhen's tallest skyscraper, clad in stainless steel.", []),
    ("Lotte World Tower", "Seoul", "South Korea", 555, 123, 2017, "skyscraper", "The tallest building in South Korea.", []),
    ("One World Trade Center", "New York City", "United States", 541, 94, 2014, "skyscraper", "Built on the site of the Twin Towers, its height is 1,776 feet.", ["Freedom Tower", "1 WTC"]),
    ("Taipei 101", "Taipei", "Taiwan", 508, 101, 2004, "skyscraper", "Tallest building in the world until 2010, steadied by a giant damper ball.", []),
    ("Petronas Towers", "Kuala Lumpur", "Malaysia", 452, 88, 1998, "skyscraper", "Twin towers linked by a sky bridge, the tallest buildings from 1998 to 2004.", ["Petronas Twin Towers"]),
    ("Willis Tower", "Chicago", "United States", 442, 108, 1974, "skyscraper", "Formerly the Sears Tower, once the tallest building in the world.", ["Sears Tower"]),
    ("Empire State Building", "New York City", "United States", 443, 102, 1931, "skyscraper", "An Art Deco icon built in little over a year; the tallest building for four decades.", []),
    ("Chrysler Building", "New York City", "United States", 319, 77, 1930, "skyscraper", "An Art Deco tower crowned with a stainless-steel spire.", []),
    ("The Shard", "London", "United Kingdom", 310, 95, 2012, "skyscraper", "A glass pyramid by London Bridge, the tallest building in the UK.", ["Shard London Bridge"]),
    ("Eiffel Tower", "Paris", "France", 330, None, 1889, "tower", "Built for the 1889 World's Fair, it was the tallest structure in the world until 1930.", ["Tour Eiffel"]),
    ("Tokyo Skytree", "Tokyo", "Japan", 634, None, 2012, "tower", "The tallest tower in the world, a broadcasting and observation tower.", ["Skytree"]),
    ("CN Tower", "Toronto", "Canada", 553, None, 1976, "tower", "The tallest free-standing structure in the world for over thirty years.", []),
    ("Canton Tower", "Guangzhou", "China", 604, None, 2010, "tower", "A slender, twisted lattice tower on the Pearl River.", []),
    ("Space Needle", "Seattle", "United States", 184, None, 1962, "tower", "Built for the 1962 World's Fair.", []),
    ("Great Pyramid of Giza", "Giza", "Egypt", 138.5, None, -2560, "monument", "The oldest of the Seven Wonders of the Ancient World, built for the pharaoh Khufu; it stood 146.6 m when new.", ["Great Pyramid", "Pyramid of Khufu"]),
    ("Colosseum", "Rome", "Italy", 48, 4, 80, "monument", "The largest amphitheatre ever built, holding some 50,000 spectators.", ["Flavian Amphitheatre", "Coliseum"]),
    ("Leaning Tower of Pisa", "Pisa", "Italy", 56, 8, 1372, "tower", "A bell tower that began to lean during construction.", ["Tower of Pisa"]),
    ("Big Ben", "London", "United Kingdom", 96, None, 1859, "tower", "Strictly the name of the great bell in the Elizabeth Tower of the Palace of Westminster.", ["Elizabeth Tower"]),
    ("Taj Mahal", "Agra", "India", 73, None, 1653, "monument", "A white marble mausoleum built by Shah Jahan for his wife Mumtaz Mahal.", []),
    ("Sydney Opera House", "Sydney", "Australia", 65, None, 1973, "building", "Its sail-like shells make it one of the most recognisable buildings.", []),
    ("Statue of Liberty", "New York City", "United States", 93, None, 1886, "monument", "A gift from France, measured here from the ground to the torch.", ["Lady Liberty"]),
    ("Cologne Cathedral", "Cologne", "Germany", 157, None, 1880, "church", "A Gothic cathedral whose construction took over six centuries.", ["Kölner Dom"]),
    ("St. Peter's Basilica", "Vatican City", "Vatican City", 136.6, None, 1626, "church", "The largest church in the world, with Michelangelo's dome.", ["Saint Peter's Basilica", "St Peter's"]),
    ("Washington Monument", "Washington, D.C.", "United States", 169, None, 1884, "monument", "A marble obelisk honouring George Washington.", []),
    ("Sagrada Família", "Barcelona", "Spain", 172.5, None, None, "church", "Gaudí's basilica, under construction since 1882.", ["Sagrada Familia"]),
]

# --- oceans and seas: name, kind, area_km2, depth_m (max), avg_depth_m, note, aliases ------
WATERS = [
    ("Pacific Ocean", "ocean", 165_250_000, 10_935, 4_280, "The largest and deepest ocean, covering about a third of the planet.", ["Pacific"]),
    ("Atlantic Ocean", "ocean", 106_460_000, 8_376, 3_646, "The second-largest ocean, split by the Mid-Atlantic Ridge.", ["Atlantic"]),
    ("Indian Ocean", "ocean", 70_560_000, 7_290, 3_741, "The warmest ocean, bounded by Africa, Asia and Australia.", []),
    ("Southern Ocean", "ocean", 21_960_000, 7_434, 3_270, "The ocean circling Antarctica, driven by the Antarctic Circumpolar Current.", ["Antarctic Ocean"]),
    ("Arctic Ocean", "ocean", 14_060_000, 5_550, 1_205, "The smallest and shallowest ocean, much of it frozen.", []),
    ("Mediterranean Sea", "sea", 2_500_000, 5_267, 1_500, "An almost enclosed sea between Europe, Africa and Asia.", ["Mediterranean"]),
    ("Caribbean Sea", "sea", 2_754_000, 7_686, 2_200, "A tropical sea of the Atlantic bounded by the Antilles.", ["Caribbean"]),
    ("South China Sea", "sea", 3_500_000, 5_016, 1_212, "One of the busiest shipping areas in the world.", []),
    ("Red Sea", "sea", 438_000, 3_040, 490, "A narrow, salty sea between Africa and Arabia.", []),
    ("Black Sea", "sea", 436_400, 2_212, 1_253, "An inland sea whose deep waters hold almost no oxygen.", []),
    ("Baltic Sea", "sea", 377_000, 459, 55, "A shallow, brackish sea of northern Europe.", ["Baltic"]),
    ("North Sea", "sea", 570_000, 725, 95, "A shallow sea between Britain and Scandinavia, rich in oil and gas.", []),
]

# --- ocean trenches: name, ocean, depth_m, length_km, note, aliases -------------------------
TRENCHES = [
    ("Mariana Trench", "Pacific Ocean", 10_935, 2_550, "The deepest place in the oceans; its Challenger Deep was first reached in 1960.", ["Marianas Trench", "Challenger Deep"]),
    ("Tonga Trench", "Pacific Ocean", 10_882, 1_375, "The second-deepest trench and the fastest-moving plate boundary.", []),
    ("Philippine Trench", "Pacific Ocean", 10_540, 1_320, "A deep trench east of the Philippines.", []),
    ("Kermadec Trench", "Pacific Ocean", 10_047, 1_000, "It continues the Tonga Trench south towards New Zealand.", []),
    ("Kuril-Kamchatka Trench", "Pacific Ocean", 9_600, 2_200, "It runs along the Kuril Islands and Kamchatka.", ["Kuril Trench"]),
    ("Puerto Rico Trench", "Atlantic Ocean", 8_376, 800, "The deepest point of the Atlantic Ocean.", []),
    ("South Sandwich Trench", "Southern Ocean", 8_266, 965, "The deepest trench of the Southern Ocean.", []),
    ("Peru-Chile Trench", "Pacific Ocean", 8_065, 5_900, "The longest trench, running along the west coast of South America.", ["Atacama Trench"]),
    ("Java Trench", "Indian Ocean", 7_290, 3_200, "The deepest point of the Indian Ocean.", ["Sunda Trench"]),
]

# --- deserts: name, continent, countries, area_km2, type, note, aliases ---------------------
DESERTS = [
    ("Antarctic Desert", "Antarctica", "Antarctica", 14_200_000, "polar", "The largest desert on Earth: almost no snow falls on the interior.", []),
    ("Arctic Desert", "Arctic", "Russia, Canada, Greenland, Norway, United States", 13_900_000, "polar", "Cold, dry lands and ice around the North Pole.", []),
    ("Sahara", "Africa", "Algeria, Egypt, Libya, Mali, Niger, Chad, Sudan and others", 9_200_000, "hot", "The largest hot desert, about the size of the United States.", ["Sahara Desert"]),
    ("Arabian Desert", "Asia", "Saudi Arabia, Yemen, Oman, United Arab Emirates and others", 2_330_000, "hot", "It contains the Rub' al Khali, the largest continuous sand sea.", []),
    ("Gobi Desert", "Asia", "Mongolia, China", 1_295_000, "cold", "A cold desert rich in dinosaur fossils.", ["Gobi"]),
    ("Kalahari Desert", "Africa", "Botswana, Namibia, South Africa", 900_000, "semi-arid", "A sandy savanna home to the San people.", ["Kalahari"]),
    ("Patagonian Desert", "South America", "Argentina, Chile", 673_000, "cold", "A cold steppe in the rain shadow of the Andes.", []),
    ("Syrian Desert", "Asia", "Syria, Jordan, Iraq, Saudi Arabia", 500_000, "hot", "A stony desert between the Levant and Mesopotamia.", []),
    ("Great Basin Desert", "North America", "United States", 492_000, "cold", "The largest desert of the United States.", []),
    ("Chihuahuan Desert", "North America", "Mexico, United States", 362_000, "hot", "One of the most biologically diverse deserts.", []),
    ("Karakum Desert", "Asia", "Turkmenistan", 350_000, "cold", "Its name means black sand.", []),
    ("Great Victoria Desert", "Oceania", "Australia", 348_750, "hot", "The largest desert in Australia.", []),
    ("Thar Desert", "Asia", "India, Pakistan", 200_000, "hot", "The Great Indian Desert, one of the most densely populated deserts.", ["Great Indian Desert"]),
    ("Mojave Desert", "North America", "United States", 124_000, "hot", "It includes Death Valley, the hottest place on Earth.", ["Mojave"]),
    ("Atacama Desert", "South America", "Chile", 105_000, "cold coastal", "The driest non-polar desert; some stations have never recorded rain.", ["Atacama"]),
    ("Namib Desert", "Africa", "Namibia, Angola, South Africa", 81_000, "cold coastal", "Perhaps the oldest desert, with some of the tallest dunes.", ["Namib"]),
]

# --- islands: name, country, ocean, area_km2, population, note, aliases ---------------------
ISLANDS = [
    ("Greenland", "Denmark", "Arctic Ocean", 2_166_086, 56_600, "The largest island in the world, mostly covered by an ice sheet.", ["Kalaallit Nunaat"]),
    ("New Guinea", "Papua New Guinea, Indonesia", "Pacific Ocean", 785_753, 15_000_000, "The second-largest island, with over 800 languages.", []),
    ("Borneo", "Indonesia, Malaysia, Brunei", "Pacific Ocean", 743_330, 23_000_000, "The third-largest island, home of orangutans.", []),
    ("Baffin Island", "Canada", "Arctic Ocean", 507_451, 13_000, "The largest island of Canada.", []),
    ("Sumatra", "Indonesia", "Indian Ocean", 473_481, 60_000_000, "A large Indonesian island with tigers and orangutans.", []),
    ("Honshu", "Japan", "Pacific Ocean", 227_960, 104_000_000, "Japan's main island, with Tokyo, Osaka and Mount Fuji.", []),
    ("Great Britain", "United Kingdom", "Atlantic Ocean", 209_331, 66_000_000, "The largest island of Europe, shared by England, Scotland and Wales.", []),
    ("Victoria Island", "Canada", "Arctic Ocean", 217_291, 2_000, "A large island of the Canadian Arctic Archipelago.", []),
    ("Ellesmere Island", "Canada", "Arctic Ocean", 196_236, 150, "The northernmost island of Canada.", []),
    ("Sulawesi", "Indonesia", "Pacific Ocean", 180_681, 20_000_000, "An oddly shaped island with four long peninsulas.", ["Celebes"]),
    ("South Island", "New Zealand", "Pacific Ocean", 150_437, 1_200_000, "The larger of New Zealand's two main islands, with the Southern Alps.", []),
    ("Java", "Indonesia", "Indian Ocean", 128_297, 152_000_000, "The most populous island in the world.", []),
    ("North Island", "New Zealand", "Pacific Ocean", 113_729, 4_000_000, "New Zealand's more populous main island.", []),
    ("Luzon", "Philippines", "Pacific Ocean", 109_965, 53_000_000, "The largest island of the Philippines, with Manila.", []),
    ("Tasmania", "Australia", "Pacific Ocean", 68_401, 570_000, "An island state south of the Australian mainland.", []),
    ("Sicily", "Italy", "Mediterranean Sea", 25_711, 4_800_000, "The largest island of the Mediterranean, home of Mount Etna.", ["Sicilia"]),
    ("Hawaii Island", "United States", "Pacific Ocean", 10_432, 200_000, "The Big Island, the largest of the Hawaiian chain.", ["Big Island"]),
    ("Easter Island", "Chile", "Pacific Ocean", 163.6, 7_750, "A remote island famous for its giant moai statues.", ["Rapa Nui"]),
    ("Manhattan", "United States", "Atlantic Ocean", 59.1, 1_600_000, "The densely built heart of New York City.", []),
]

# --- waterfalls: name, country, river, height_m, width_m, note, aliases ---------------------
WATERFALLS = [
    ("Angel Falls", "Venezuela", "Kerep River", 979, 107, "The highest uninterrupted waterfall in the world.", ["Kerepakupai Merú", "Salto Ángel"]),
    ("Tugela Falls", "South Africa", "Tugela River", 948, 15, "A tiered waterfall in the Drakensberg, possibly the highest.", []),
    ("Yosemite Falls", "United States", "Yosemite Creek", 739, 10, "The highest waterfall in Yosemite National Park.", []),
    ("Kaieteur Falls", "Guyana", "Potaro River", 226, 113, "One of the most powerful single-drop waterfalls.", []),
    ("Victoria Falls", "Zambia, Zimbabwe", "Zambezi", 108, 1_708, "The largest sheet of falling water in the world, called the smoke that thunders.", ["Mosi-oa-Tunya"]),
    ("Iguazu Falls", "Argentina, Brazil", "Iguazu River", 82, 2_700, "A system of about 275 falls on the Argentina-Brazil border.", ["Iguaçu Falls", "Iguassu Falls"]),
    ("Niagara Falls", "Canada, United States", "Niagara River", 51, 1_200, "Three falls on the Canada-US border with a huge flow rate.", ["Niagara"]),
    ("Gullfoss", "Iceland", "Hvítá", 32, 70, "A two-step waterfall in a canyon in south-west Iceland.", []),
]


def entry(name: str, kind: str, summary: str, facts: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "summary": summary,
        "aliases": aliases,
        "facts": {k: v for k, v in facts.items() if v is not None},
    }


def build() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, capital, continent, pop, area, note, aliases in COUNTRIES:
        summary = (
            f"{cap(the(name))} is a country in {continent} with its capital at {capital.rstrip('.')}. "
            f"It has about {words(pop)} inhabitants on {words(area)} km². {note}"
        )
        facts = {"capital": capital, "continent": continent, "population": pop, "area_km2": area,
                 "population_density_per_km2": round(pop / area, 1)}
        out.append(entry(name, "country", summary, facts, aliases))
    for name, country, continent, pop, elev, note, aliases in CITIES:
        summary = (
            f"{name} is a city in {the(country)} ({continent}), with about {words(pop)} people in its "
            f"metropolitan area, lying {elev} m above sea level. {note}"
        )
        facts = {"country": country, "continent": continent, "population": pop, "elevation_m": elev}
        out.append(entry(name, "city", summary, facts, aliases))
    for name, continent, countries, mouth, length, flow, basin, note, aliases in RIVERS:
        label = name if name.endswith("River") else f"The {name}"
        summary = (
            f"{label} is a river in {continent}, about {length:,} km long, flowing through {countries} "
            f"into the {mouth}. Its mean discharge is about {flow:,} m³/s. {note}"
        )
        facts = {"continent": continent, "countries": countries, "mouth": mouth, "length_km": length,
                 "discharge_m3s": flow, "basin_area_km2": basin}
        out.append(entry(name, "river", summary, facts, aliases))
    for name, rng, country, continent, height, ascent, note, aliases in MOUNTAINS:
        climbed = f" first climbed in {year(ascent)}" if ascent else ""
        summary = (
            f"{name} is a mountain in {the(country)}{'' if country == continent else f' ({continent})'}, part of the {rng}, {height:,} m high,"
            f"{climbed or ' with no recorded first ascent'}. {note}"
        ).replace(" high, first", " high and first")
        facts = {"range": rng, "country": country, "continent": continent, "height_m": height,
                 "first_ascent_year": ascent}
        out.append(entry(name, "mountain", summary, facts, aliases))
    for name, countries, continent, area, depth, elev, vol, note, aliases in LAKES:
        summary = (
            f"{name} is a lake in {continent} ({countries}) covering {words(area)} km², up to {depth:,} m "
            f"deep, with its surface {elev} m above sea level. {note}"
        )
        facts = {"countries": countries, "continent": continent, "area_km2": area, "depth_m": depth,
                 "elevation_m": elev, "volume_km3": vol}
        out.append(entry(name, "lake", summary, facts, aliases))
    for name, cls, habitat, diet, mass, speed, life, note, aliases in ANIMALS:
        summary = (
            f"The {common_name(name)} is a {cls} ({diet}) found in {habitat}. "
            f"It weighs about {words(mass)} kg, reaches about {speed} km/h and lives about {life} years. {note}"
        )
        facts = {"class": cls, "habitat": habitat, "diet": diet, "mass_kg": mass, "top_speed_kmh": speed,
                 "lifespan_years": life}
        out.append(entry(name, "animal", summary, facts, aliases))
    for name, field, nationality, born, died, note, aliases in PEOPLE:
        span = f"({year(born)}–{year(died)})" if died is not None else f"(born {year(born)})"
        article = "an" if nationality[0] in "AEIOU" else "a"
        summary = f"{name} {span} was {article} {nationality} figure in {field}. {note}"
        if died is None:
            summary = summary.replace(" was ", " is ", 1)
        facts = {"field": field, "nationality": nationality, "birth_year": born, "death_year": died,
                 # No year 0 between 1 BC and AD 1, so spans crossing it are one year shorter.
                 "age_at_death": None if died is None else died - born - (1 if born < 0 < died else 0)}
        out.append(entry(name, "person", summary, facts, aliases))
    for name, kind, mass, radius, period, orbits, dist, moons, note, aliases in SPACE:
        facts: dict[str, Any] = {"mass_kg": mass, "radius_km": radius, "orbital_period_days": period,
                                 "orbits": orbits}
        if kind in ("planet", "dwarf planet"):
            facts |= {"distance_from_sun_million_km": dist, "moons": moons}
            where = f"orbiting the Sun every {period:,} days at about {dist:,} million km, with {moons or 'no'} known moon{'' if moons == 1 else 's'}"
        elif kind == "moon":
            facts |= {"distance_from_parent_km": dist}
            where = f"orbiting {orbits} every {period} days at about {dist:,} km"
        else:
            facts |= {"distance_ly": dist} if dist else {}
            where = f"about {dist} light years from the Sun" if dist else "at the centre of the solar system"
        summary = f"{cap(the(name))} is a {kind} with a radius of {radius:,} km and a mass of {mass:.3g} kg, {where}. {note}"
        out.append(entry(name, kind, summary, facts, aliases))
    for name, city, country, height, floors, done, btype, note, aliases in BUILDINGS:
        when = f"completed in {year(done)}" if done is not None else "still unfinished"
        storeys = f" with {floors} floors" if floors else ""
        summary = f"{cap(the(name))} is a {btype} in {city}, {country}, {height} m tall{storeys}, {when}. {note}"
        facts = {"type": btype, "city": city, "country": country, "height_m": height, "floors": floors,
                 "completed_year": done}
        out.append(entry(name, "building", summary, facts, aliases))
    for name, kind, area, depth, avg, note, aliases in WATERS:
        summary = (
            f"The {name} is an {kind} of {words(area)} km², with an average depth of {avg:,} m and a "
            f"greatest depth of {depth:,} m. {note}"
        ).replace("an sea", "a sea")
        facts = {"area_km2": area, "depth_m": depth, "avg_depth_m": avg}
        out.append(entry(name, kind, summary, facts, aliases))
    for name, ocean, depth, length, note, aliases in TRENCHES:
        summary = f"The {name} is an oceanic trench in the {ocean}, {depth:,} m deep at its deepest and about {length:,} km long. {note}"
        facts = {"ocean": ocean, "depth_m": depth, "length_km": length}
        out.append(entry(name, "trench", summary, facts, aliases))
    for name, continent, countries, area, dtype, note, aliases in DESERTS:
        summary = f"The {name} is a {dtype} desert in {continent} ({countries}) covering about {words(area)} km². {note}"
        facts = {"continent": continent, "countries": countries, "area_km2": area, "type": dtype}
        out.append(entry(name, "desert", summary, facts, aliases))
    for name, country, ocean, area, pop, note, aliases in ISLANDS:
        summary = f"{name} is an island of {the(country)} in the {ocean}, {words(area)} km² in area with about {words(pop)} inhabitants. {note}"
        facts = {"country": country, "ocean": ocean, "area_km2": area, "population": pop}
        out.append(entry(name, "island", summary, facts, aliases))
    for name, country, river, height, width, note, aliases in WATERFALLS:
        summary = f"{name} is a waterfall in {the(country)} on the {river}, {height} m high and about {width:,} m wide. {note}"
        facts = {"country": country, "river": river, "height_m": height, "width_m": width}
        out.append(entry(name, "waterfall", summary, facts, aliases))
    names = [e["name"].casefold() for e in out]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"duplicate names: {duplicates}"
    return out


def main() -> None:
    entries = build()
    # One entry per line: small diffs when the tables change, still valid JSON.
    text = "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n]\n"
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(entries)} entries, {len(text.encode()) // 1024} KB, to {OUT}")


if __name__ == "__main__":
    main()
